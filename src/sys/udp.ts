// A UDP socket pinned to one interface (SO_BINDTODEVICE) that may send to the
// limited broadcast address (SO_BROADCAST) from 0.0.0.0. node:dgram cannot
// bind to a device, and without that a broadcast leaves through whatever the
// routing table says (or fails with ENETUNREACH when nothing is configured).
// Non-blocking: receive() returns undefined on EAGAIN; the caller polls.
import { check, cstr, errno, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";
import { ipv4Bytes } from "./net.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
  sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64_fast },
  recvfrom: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.ptr], returns: T.i64_fast },
  close: { args: [T.i32], returns: T.i32 },
});

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const EAGAIN = 11;
const EINTR = 4;

function sockaddrIn(addr: string, port: number): Buffer {
  const sa = Buffer.alloc(16);
  sa.writeUInt16LE(AF_INET, 0);
  sa.writeUInt16BE(port, 2);
  ipv4Bytes(addr).copy(sa, 4);
  return sa;
}

export interface Datagram {
  data: Buffer;
  from: string;
  port: number;
}

export class DeviceUdpSocket {
  private readonly buf = Buffer.alloc(2048);
  private readonly from = Buffer.alloc(16);
  private readonly fromLen = new Uint32Array(1);
  private fd: number;

  /** Binds 0.0.0.0:`port` on `ifname` (SO_REUSEADDR: a second client instance or a restart may bind again at once). */
  constructor(
    readonly ifname: string,
    port: number,
  ) {
    const s = sym();
    this.fd = check(s.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket(AF_INET, SOCK_DGRAM)");
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1, 0);
      check(s.setsockopt(this.fd, SOL_SOCKET, SO_REUSEADDR, ptr(one), 4), "setsockopt(SO_REUSEADDR)");
      check(s.setsockopt(this.fd, SOL_SOCKET, SO_BROADCAST, ptr(one), 4), "setsockopt(SO_BROADCAST)");
      const dev = cstr(ifname);
      check(s.setsockopt(this.fd, SOL_SOCKET, SO_BINDTODEVICE, ptr(dev), dev.length), `setsockopt(SO_BINDTODEVICE ${ifname})`);
      const sa = sockaddrIn("0.0.0.0", port);
      check(s.bind(this.fd, ptr(sa), sa.length), `bind(0.0.0.0:${port} on ${ifname})`);
    } catch (e) {
      s.close(this.fd);
      throw e;
    }
  }

  send(data: Buffer, addr: string, port: number): void {
    const sa = sockaddrIn(addr, port);
    const n = Number(sym().sendto(this.fd, ptr(data), data.length, 0, ptr(sa), sa.length));
    if (n < 0) throw new SysError(`sendto(${addr}:${port} on ${this.ifname})`, errno());
  }

  receive(): Datagram | undefined {
    if (this.fd < 0) return undefined;
    for (;;) {
      this.fromLen[0] = 16;
      const n = Number(sym().recvfrom(this.fd, ptr(this.buf), this.buf.length, 0, ptr(this.from), ptr(this.fromLen)));
      if (n >= 0) {
        const a = this.from;
        return { data: Buffer.from(this.buf.subarray(0, n)), from: `${a[4]}.${a[5]}.${a[6]}.${a[7]}`, port: a.readUInt16BE(2) };
      }
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e !== EINTR) throw new SysError(`recvfrom(udp on ${this.ifname})`, e);
    }
  }

  close(): void {
    if (this.fd >= 0) sym().close(this.fd);
    this.fd = -1;
  }
}
