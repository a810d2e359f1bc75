// IPv6 addresses and routes through rtnetlink (RTM_NEWADDR / RTM_NEWROUTE with
// AF_INET6), the counterpart of net.ts's IPv4 calls. Addresses are 16 raw
// bytes: text parsing belongs to src/lib/ipv6.ts, which src/sys may not import.
import { SysError } from "./errno.ts";
import { NLM_F_CREATE, NLM_F_REPLACE, netlinkAck, rtattr, u32 } from "./netlink.ts";

const AF_INET6 = 10;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWROUTE = 24;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
const EADDRNOTAVAIL = 99;

function bytes16(a: Uint8Array, what: string): Uint8Array {
  if (a.length !== 16) throw new Error(`${what}: an IPv6 address is 16 bytes, got ${a.length}`);
  return a;
}

const linkLocal = (a: Uint8Array) => a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;

/** Adds (or replaces) `addr/prefix` on interface `index`; fe80::/10 gets link scope. */
export function addAddress6(index: number, addr: Uint8Array, prefix: number, label = "address"): void {
  const a = bytes16(addr, label);
  const head = Buffer.alloc(8);
  head.writeUInt8(AF_INET6, 0);
  head.writeUInt8(prefix, 1);
  head.writeUInt8(linkLocal(a) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, 3);
  head.writeUInt32LE(index, 4);
  const what = `RTM_NEWADDR ${label}/${prefix} on ifindex ${index}`;
  const err = netlinkAck(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([head, rtattr(IFA_LOCAL, a), rtattr(IFA_ADDRESS, a)]), what);
  if (err !== 0) throw new SysError(what, err);
}

/** Removes `addr/prefix` from interface `index`; false when it was not there. */
export function deleteAddress6(index: number, addr: Uint8Array, prefix: number, label = "address"): boolean {
  const a = bytes16(addr, label);
  const head = Buffer.alloc(8);
  head.writeUInt8(AF_INET6, 0);
  head.writeUInt8(prefix, 1);
  head.writeUInt32LE(index, 4);
  const what = `RTM_DELADDR ${label}/${prefix} on ifindex ${index}`;
  const err = netlinkAck(RTM_DELADDR, 0, Buffer.concat([head, rtattr(IFA_ADDRESS, a)]), what);
  if (err === EADDRNOTAVAIL) return false;
  if (err !== 0) throw new SysError(what, err);
  return true;
}

export interface Route6 {
  /** Destination network (16 bytes) and prefix length (0: the default route). */
  dst: Uint8Array;
  prefix: number;
  gateway?: Uint8Array;
  index: number;
  metric?: number;
  /** For messages only: the route as text. */
  label?: string;
}

/** Adds (or replaces) an IPv6 route in the main table (IPv6 routes always have universe scope). */
export function addRoute6(r: Route6): void {
  const head = Buffer.alloc(12);
  head.writeUInt8(AF_INET6, 0);
  head.writeUInt8(r.prefix, 1);
  head.writeUInt8(RT_TABLE_MAIN, 4);
  head.writeUInt8(RTPROT_STATIC, 5);
  head.writeUInt8(RT_SCOPE_UNIVERSE, 6);
  head.writeUInt8(RTN_UNICAST, 7);
  const attrs = [rtattr(RTA_OIF, u32(r.index))];
  if (r.prefix > 0) attrs.push(rtattr(RTA_DST, bytes16(r.dst, "dst")));
  if (r.gateway) attrs.push(rtattr(RTA_GATEWAY, bytes16(r.gateway, "gateway")));
  if (r.metric !== undefined) attrs.push(rtattr(RTA_PRIORITY, u32(r.metric)));
  const what = `RTM_NEWROUTE ${r.label ?? "route"} on ifindex ${r.index}`;
  const err = netlinkAck(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([head, ...attrs]), what);
  if (err !== 0) throw new SysError(what, err);
}
