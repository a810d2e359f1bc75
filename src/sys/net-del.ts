// The inverse of net.ts's addAddress4/addRoute4: RTM_DELADDR and RTM_DELROUTE,
// for a DHCP lease that expires. A separate file because net.ts's netlink
// request helper is private; the few lines of request plumbing are repeated
// here (the lead may fold both into one exported helper).
import { check, errno, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";
import { ipv4Bytes, type Route4 } from "./net.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  send: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
  recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
});

const AF_INET = 2;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
const RTM_DELADDR = 21;
const RTM_DELROUTE = 25;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
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

function rtattr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  payload.copy(buf, 4);
  return buf;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
}

let seq = 0x40000000; // apart from net.ts's counter, though each request has its own socket anyway

/** Returns the kernel's errno for the request (0: done). */
function request(type: number, body: Buffer, what: string): number {
  const s = sym();
  const msg = Buffer.alloc(16 + body.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  const mySeq = ++seq;
  msg.writeUInt32LE(mySeq, 8);
  body.copy(msg, 16);
  const fd = check(s.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "socket(AF_NETLINK)");
  try {
    if (s.send(fd, ptr(msg), msg.length, 0) < 0) throw new SysError(`send(${what})`, errno());
    const reply = Buffer.alloc(8192);
    for (;;) {
      const n = Number(s.recv(fd, ptr(reply), reply.length, 0));
      if (n < 0) throw new SysError(`recv(${what})`, errno());
      for (let off = 0; off + 16 <= n; ) {
        const len = reply.readUInt32LE(off);
        if (len < 16) break;
        if (reply.readUInt16LE(off + 4) === NLMSG_ERROR && reply.readUInt32LE(off + 8) === mySeq) return -reply.readInt32LE(off + 16);
        off += (len + 3) & ~3;
      }
    }
  } finally {
    s.close(fd);
  }
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
