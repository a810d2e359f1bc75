// Network interface flags through the classic ioctls (SIOCGIFFLAGS /
// SIOCSIFFLAGS on an AF_INET datagram socket): enough to bring loopback up
// without netlink.
import { check, libc, ptr, T } from "./ffi.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
});

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
/** sizeof(struct ifreq) on x86-64: 16-byte name, 24-byte union (ifr_flags is its first short). */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

function ifreq(name: string): Buffer {
  const buf = Buffer.alloc(IFREQ_SIZE);
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new Error(`interface name too long: ${name}`);
  buf.write(name, 0, "utf8");
  return buf;
}

/** The interface's flags (IFF_*). */
export function interfaceFlags(name: string): number {
  const s = sym();
  const fd = check(s.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)");
  try {
    const req = ifreq(name);
    check(s.ioctl(fd, SIOCGIFFLAGS, ptr(req)), `ioctl(${name}, SIOCGIFFLAGS)`);
    return req.readUInt16LE(IFNAMSIZ);
  } finally {
    s.close(fd);
  }
}

/** Sets IFF_UP on an interface (a no-op when it is already up); returns the new flags. */
export function interfaceUp(name: string): number {
  const s = sym();
  const fd = check(s.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)");
  try {
    const req = ifreq(name);
    check(s.ioctl(fd, SIOCGIFFLAGS, ptr(req)), `ioctl(${name}, SIOCGIFFLAGS)`);
    const flags = req.readUInt16LE(IFNAMSIZ) | IFF_UP;
    req.writeUInt16LE(flags, IFNAMSIZ);
    check(s.ioctl(fd, SIOCSIFFLAGS, ptr(req)), `ioctl(${name}, SIOCSIFFLAGS)`);
    return flags;
  } finally {
    s.close(fd);
  }
}
