// Link-layer sockets (AF_PACKET, SOCK_DGRAM: the kernel adds and strips the
// Ethernet header, we give it the destination MAC) and the interface's own
// hardware address (SIOCGIFHWADDR). DHCP needs them before the interface has
// an IPv4 address: the IP stack drops (or rp_filter rejects) packets to an
// address the host does not own yet, a packet socket still sees them. ARP
// probes (RFC 5227) need them too. Every socket here is O_NONBLOCK: reads
// return undefined on EAGAIN, so PID 1 polls them on a timer and never parks.
import { check, errno, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
  setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
  sendto: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.u32], returns: T.i64_fast },
  recvfrom: { args: [T.i32, T.ptr, T.u64, T.i32, T.ptr, T.ptr], returns: T.i64_fast },
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
});

const AF_INET = 2;
const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const EAGAIN = 11;
const EINTR = 4;
const SIOCGIFHWADDR = 0x8927n;
const SOCKADDR_LL_SIZE = 20;
const PACKET_OUTGOING = 4;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** The interface's MAC address (6 bytes), from SIOCGIFHWADDR. */
export function hardwareAddress(ifname: string): Buffer {
  const req = Buffer.alloc(40);
  if (Buffer.byteLength(ifname) >= 16) throw new Error(`interface name too long: ${ifname}`);
  req.write(ifname, 0, "utf8");
  const fd = check(sym().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket(AF_INET)");
  try {
    check(sym().ioctl(fd, SIOCGIFHWADDR, ptr(req)), `ioctl(${ifname}, SIOCGIFHWADDR)`);
  } finally {
    sym().close(fd);
  }
  // struct ifreq: 16-byte name, then struct sockaddr { u16 family; char data[14] }.
  return Buffer.from(req.subarray(18, 24));
}

function sockaddrLl(ethertype: number, ifindex: number, mac?: Buffer): Buffer {
  const sa = Buffer.alloc(SOCKADDR_LL_SIZE);
  sa.writeUInt16LE(AF_PACKET, 0);
  sa.writeUInt16BE(ethertype, 2);
  sa.writeInt32LE(ifindex, 4);
  if (mac) {
    sa.writeUInt8(mac.length, 11);
    mac.copy(sa, 12);
  }
  return sa;
}

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export interface PacketFrame {
  /** The payload above the link layer (an IPv4 packet, an ARP message). */
  data: Buffer;
  /** The sender's MAC address. */
  from: Buffer;
  /** A copy of a frame this host sent (packet sockets see both directions). */
  outgoing: boolean;
}

/** A non-blocking AF_PACKET/SOCK_DGRAM socket bound to one interface and one ethertype. */
export class PacketSocket {
  private readonly buf = Buffer.alloc(2048);
  private readonly from = Buffer.alloc(SOCKADDR_LL_SIZE);
  private readonly fromLen = new Uint32Array(1);
  private fd: number;

  /** The filter, when given, is attached before bind so no unfiltered frame is ever queued. */
  constructor(
    readonly ifindex: number,
    readonly ethertype: number,
    filter?: readonly BpfInsn[],
  ) {
    const s = sym();
    // Protocol 0 at socket(): nothing is queued until bind() names the interface.
    this.fd = check(s.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket(AF_PACKET)");
    try {
      if (filter) {
        const prog = Buffer.alloc(filter.length * 8);
        filter.forEach((f, i) => {
          prog.writeUInt16LE(f.code, i * 8);
          prog.writeUInt8(f.jt, i * 8 + 2);
          prog.writeUInt8(f.jf, i * 8 + 3);
          prog.writeUInt32LE(f.k >>> 0, i * 8 + 4);
        });
        const fprog = Buffer.alloc(16);
        fprog.writeUInt16LE(filter.length, 0);
        fprog.writeBigUInt64LE(BigInt(ptr(prog)), 8);
        check(s.setsockopt(this.fd, SOL_SOCKET, SO_ATTACH_FILTER, ptr(fprog), fprog.length), "setsockopt(SO_ATTACH_FILTER)");
      }
      const sa = sockaddrLl(ethertype, ifindex);
      check(s.bind(this.fd, ptr(sa), sa.length), `bind(AF_PACKET, ifindex ${ifindex})`);
    } catch (e) {
      s.close(this.fd);
      throw e;
    }
  }

  /** Sends `data` to `mac` (the kernel prepends the Ethernet header). */
  send(data: Buffer, mac: Buffer): void {
    const sa = sockaddrLl(this.ethertype, this.ifindex, mac);
    const n = Number(sym().sendto(this.fd, ptr(data), data.length, 0, ptr(sa), sa.length));
    if (n < 0) throw new SysError(`sendto(AF_PACKET, ifindex ${this.ifindex})`, errno());
  }

  /** The next queued frame, or undefined when none is (EAGAIN). */
  receive(): PacketFrame | undefined {
    if (this.fd < 0) return undefined;
    for (;;) {
      this.fromLen[0] = SOCKADDR_LL_SIZE;
      const n = Number(sym().recvfrom(this.fd, ptr(this.buf), this.buf.length, 0, ptr(this.from), ptr(this.fromLen)));
      if (n >= 0) {
        const halen = this.from.readUInt8(11);
        return {
          data: Buffer.from(this.buf.subarray(0, n)),
          from: Buffer.from(this.from.subarray(12, 12 + Math.min(halen, 8))),
          outgoing: this.from.readUInt8(10) === PACKET_OUTGOING,
        };
      }
      const e = errno();
      if (e === EAGAIN) return undefined;
      if (e !== EINTR) throw new SysError(`recvfrom(AF_PACKET, ifindex ${this.ifindex})`, e);
    }
  }

  close(): void {
    if (this.fd >= 0) sym().close(this.fd);
    this.fd = -1;
  }
}
