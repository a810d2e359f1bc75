// Network interfaces: flags and MTU through the classic ioctls (SIOCGIFFLAGS /
// SIOCSIFFLAGS / SIOCSIFMTU on an AF_INET datagram socket), IPv4 addresses and
// routes through rtnetlink (RTM_NEWADDR / RTM_NEWROUTE on a NETLINK_ROUTE
// socket). Netlink rather than SIOCSIFADDR/SIOCADDRT: an interface may carry
// several addresses without "eth0:1" alias labels, and the kernel's answer is
// an explicit ack carrying the errno.
import { check, cstr, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";
import { netlinkAck, rtattr, u32 } from "./netlink.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  if_nametoindex: { args: [T.ptr], returns: T.u32 },
});

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
const SIOCSIFMTU = 0x8922n;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
/** sizeof(struct ifreq) on x86-64: 16-byte name, 24-byte union (ifr_flags / ifr_mtu first). */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

function ifreq(name: string): Buffer {
  const buf = Buffer.alloc(IFREQ_SIZE);
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new Error(`interface name too long: ${name}`);
  buf.write(name, 0, "utf8");
  return buf;
}

/** Runs `fn` with an AF_INET datagram socket (what the interface ioctls need). */
function withInetSocket<R>(fn: (fd: number) => R): R {
  const s = sym();
  const fd = check(s.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)");
  try {
    return fn(fd);
  } finally {
    s.close(fd);
  }
}

/** Sets IFF_UP on an interface (a no-op when it is already up); returns the new flags. */
export function interfaceUp(name: string): number {
  return withInetSocket((fd) => {
    const req = ifreq(name);
    check(sym().ioctl(fd, SIOCGIFFLAGS, ptr(req)), `ioctl(${name}, SIOCGIFFLAGS)`);
    const flags = req.readUInt16LE(IFNAMSIZ) | IFF_UP;
    req.writeUInt16LE(flags, IFNAMSIZ);
    check(sym().ioctl(fd, SIOCSIFFLAGS, ptr(req)), `ioctl(${name}, SIOCSIFFLAGS)`);
    return flags;
  });
}

/** Sets the interface's MTU (SIOCSIFMTU). */
export function setMtu(name: string, mtu: number): void {
  withInetSocket((fd) => {
    const req = ifreq(name);
    req.writeInt32LE(mtu, IFNAMSIZ);
    check(sym().ioctl(fd, SIOCSIFMTU, ptr(req)), `ioctl(${name}, SIOCSIFMTU ${mtu})`);
  });
}

/** if_nametoindex(3); undefined when there is no such interface (yet). */
export function interfaceIndex(name: string): number | undefined {
  // Bound to a const: a temporary Buffer could be collected while C still reads it.
  const cname = cstr(name);
  const idx = sym().if_nametoindex(ptr(cname));
  return idx === 0 ? undefined : idx;
}

// ---- rtnetlink --------------------------------------------------------------

const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
const RTN_UNICAST = 1;

/** Dotted quad -> 4 bytes in network order; throws on anything else. */
export function ipv4Bytes(addr: string): Buffer {
  const parts = addr.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`not an IPv4 address: ${addr}`);
  return Buffer.from(parts.map(Number));
}

/** One netlink request with NLM_F_ACK; throws SysError with the errno of the kernel's ack. */
function netlinkRequest(type: number, flags: number, body: Buffer, what: string): void {
  const err = netlinkAck(type, flags, body, what);
  if (err !== 0) throw new SysError(what, err);
}

/** Adds (or replaces) an IPv4 address `addr/prefix` on interface `index`; 127/8 gets host scope as `ip addr` gives it. */
export function addAddress4(index: number, addr: string, prefix: number): void {
  const a = ipv4Bytes(addr);
  const head = Buffer.alloc(8);
  head.writeUInt8(AF_INET, 0);
  head.writeUInt8(prefix, 1);
  head.writeUInt8(a[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE, 3);
  head.writeUInt32LE(index, 4);
  const attrs = [rtattr(IFA_LOCAL, a), rtattr(IFA_ADDRESS, a)];
  if (prefix < 31) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const brd = Buffer.alloc(4);
    brd.writeUInt32BE((a.readUInt32BE(0) | ~mask) >>> 0, 0);
    attrs.push(rtattr(IFA_BROADCAST, brd));
  }
  netlinkRequest(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([head, ...attrs]), `RTM_NEWADDR ${addr}/${prefix} on ifindex ${index}`);
}

export interface Route4 {
  /** Destination network address and prefix length (0.0.0.0/0: the default route). */
  dst: string;
  prefix: number;
  /** Next hop; without one the network is on the link itself. */
  gateway?: string;
  /** Outgoing interface index. */
  index: number;
  metric?: number;
}

/** Adds (or replaces) an IPv4 route in the main table. */
export function addRoute4(r: Route4): void {
  const head = Buffer.alloc(12);
  head.writeUInt8(AF_INET, 0);
  head.writeUInt8(r.prefix, 1);
  head.writeUInt8(RT_TABLE_MAIN, 4);
  head.writeUInt8(RTPROT_STATIC, 5);
  head.writeUInt8(r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, 6);
  head.writeUInt8(RTN_UNICAST, 7);
  const attrs = [rtattr(RTA_OIF, u32(r.index))];
  if (r.prefix > 0) attrs.push(rtattr(RTA_DST, ipv4Bytes(r.dst)));
  if (r.gateway) attrs.push(rtattr(RTA_GATEWAY, ipv4Bytes(r.gateway)));
  if (r.metric !== undefined) attrs.push(rtattr(RTA_PRIORITY, u32(r.metric)));
  const what = `RTM_NEWROUTE ${r.dst}/${r.prefix}${r.gateway ? ` via ${r.gateway}` : ""} on ifindex ${r.index}`;
  netlinkRequest(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, Buffer.concat([head, ...attrs]), what);
}
