// The inverse of net.ts's addAddress4/addRoute4: RTM_DELADDR and RTM_DELROUTE,
// for a DHCP lease that expires. The request plumbing is netlink.ts's.
import { SysError } from "./errno.ts";
import { ipv4Bytes, type Route4 } from "./net.ts";
import { netlinkAck, rtattr, u32 } from "./netlink.ts";

const AF_INET = 2;
const RTM_DELADDR = 21;
const RTM_DELROUTE = 25;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RT_TABLE_MAIN = 254;
const RT_SCOPE_NOWHERE = 255;
const ESRCH = 3;
const EADDRNOTAVAIL = 99;

/** Returns the kernel's errno for the request (0: done). */
function request(type: number, body: Buffer, what: string): number {
  return netlinkAck(type, 0, body, what);
}

/** Removes `addr/prefix` from interface `index`; false when it was not there (EADDRNOTAVAIL). */
export function deleteAddress4(index: number, addr: string, prefix: number): boolean {
  const a = ipv4Bytes(addr);
  const head = Buffer.alloc(8);
  head.writeUInt8(AF_INET, 0);
  head.writeUInt8(prefix, 1);
  head.writeUInt32LE(index, 4);
  const what = `RTM_DELADDR ${addr}/${prefix} on ifindex ${index}`;
  const err = request(RTM_DELADDR, Buffer.concat([head, rtattr(IFA_LOCAL, a), rtattr(IFA_ADDRESS, a)]), what);
  if (err === EADDRNOTAVAIL) return false;
  if (err !== 0) throw new SysError(what, err);
  return true;
}

/** Removes a route of the main table; false when there was none such (ESRCH). */
export function deleteRoute4(r: Route4): boolean {
  const head = Buffer.alloc(12);
  head.writeUInt8(AF_INET, 0);
  head.writeUInt8(r.prefix, 1);
  head.writeUInt8(RT_TABLE_MAIN, 4);
  // RT_SCOPE_NOWHERE with protocol/type 0: match any scope, protocol and type.
  head.writeUInt8(RT_SCOPE_NOWHERE, 6);
  const attrs = [rtattr(RTA_OIF, u32(r.index))];
  if (r.prefix > 0) attrs.push(rtattr(RTA_DST, ipv4Bytes(r.dst)));
  if (r.gateway) attrs.push(rtattr(RTA_GATEWAY, ipv4Bytes(r.gateway)));
  if (r.metric !== undefined) attrs.push(rtattr(RTA_PRIORITY, u32(r.metric)));
  const what = `RTM_DELROUTE ${r.dst}/${r.prefix}${r.gateway ? ` via ${r.gateway}` : ""} on ifindex ${r.index}`;
  const err = request(RTM_DELROUTE, Buffer.concat([head, ...attrs]), what);
  if (err === ESRCH) return false;
  if (err !== 0) throw new SysError(what, err);
  return true;
}
