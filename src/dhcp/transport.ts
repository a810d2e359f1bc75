// The DHCP transport on a real interface. Why two sockets:
//
// - Receiving: an AF_PACKET socket (ETH_P_IP, a BPF filter keeping only
//   unfragmented UDP to port 68). Before the interface has an address the IP
//   stack would drop a unicast OFFER to the not-yet-owned yiaddr, and with
//   rp_filter on it rejects even broadcasts from a server it has no route
//   back to; the packet socket sees the frame in every case, so no BROADCAST
//   flag is needed and the same path works in every state.
// - Sending: a UDP socket bound to 0.0.0.0:68 with SO_BINDTODEVICE and
//   SO_BROADCAST. The kernel builds IP/UDP headers and checksums, sends the
//   limited broadcast out of this interface even with no address (source
//   0.0.0.0), and routes the unicast RENEW to the server (ARP included). Being
//   bound to :68 it also keeps the kernel from answering the server's unicast
//   replies with ICMP port-unreachable; what it queues is drained and dropped.
//
// Both fds are non-blocking and read on a timer: fast (20 ms) for a while
// after each send, when replies are due, slow (1 s) otherwise. A tick is two
// recvfrom calls returning EAGAIN (a few µs), so PID 1's loop never waits.
import { PacketSocket, ETH_P_IP, type BpfInsn } from "../sys/packet.ts";
import { DeviceUdpSocket } from "../sys/udp.ts";
import type { DhcpTransport } from "./client.ts";

const CLIENT_PORT = 68;
const SERVER_PORT = 67;

/** ip proto udp && not a fragment && udp dst port 68; offsets from the IP header (cooked socket). */
export const DHCP_CLIENT_FILTER: readonly BpfInsn[] = [
  { code: 0x30, jt: 0, jf: 0, k: 9 }, //      ldb [9]            protocol
  { code: 0x15, jt: 0, jf: 6, k: 17 }, //     jeq #17 ? : drop
  { code: 0x28, jt: 0, jf: 0, k: 6 }, //      ldh [6]            flags + fragment offset
  { code: 0x45, jt: 4, jf: 0, k: 0x1fff }, // jset #0x1fff ? drop :
  { code: 0xb1, jt: 0, jf: 0, k: 0 }, //      ldxb 4*([0]&0xf)   IP header length
  { code: 0x48, jt: 0, jf: 0, k: 2 }, //      ldh [x+2]          UDP destination port
  { code: 0x15, jt: 0, jf: 1, k: CLIENT_PORT }, // jeq #68 ? accept : drop
  { code: 0x06, jt: 0, jf: 0, k: 0xffff }, // ret #65535         accept
  { code: 0x06, jt: 0, jf: 0, k: 0 }, //      ret #0             drop
];

function ipHeaderChecksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

/**
 * The UDP payload of an IPv4 packet to port 68, or why it is not one. The UDP
 * checksum is not verified: on veth/virtio the kernel may hand a packet socket
 * a frame whose checksum was offloaded and never filled in; the DHCP checks
 * (cookie, xid, chaddr, option framing) guard the payload instead.
 */
export function udpPayload(ip: Buffer): { ok: true; payload: Buffer; src: string } | { ok: false; reason: string } {
  if (ip.length < 28) return { ok: false, reason: `IPv4 packet of ${ip.length} bytes` };
  if (ip[0]! >> 4 !== 4) return { ok: false, reason: `IP version ${ip[0]! >> 4}` };
  const ihl = (ip[0]! & 0xf) * 4;
  const total = ip.readUInt16BE(2);
  if (ihl < 20 || total < ihl + 8 || total > ip.length) return { ok: false, reason: `bad IPv4 lengths (ihl ${ihl}, total ${total}, have ${ip.length})` };
  if (!ipHeaderChecksumOk(ip.subarray(0, ihl))) return { ok: false, reason: "bad IPv4 header checksum" };
  if (ip[9] !== 17) return { ok: false, reason: `IP protocol ${ip[9]}` };
  if ((ip.readUInt16BE(6) & 0x3fff) !== 0) return { ok: false, reason: "IPv4 fragment" };
  const ulen = ip.readUInt16BE(ihl + 4);
  if (ip.readUInt16BE(ihl + 2) !== CLIENT_PORT) return { ok: false, reason: "not to port 68" };
  if (ulen < 8 || ihl + ulen > total) return { ok: false, reason: `bad UDP length ${ulen}` };
  return { ok: true, payload: Buffer.from(ip.subarray(ihl + 8, ihl + ulen)), src: `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}` };
}

export interface LinkTransportOptions {
  ifname: string;
  ifindex: number;
  /** Poll period while replies are expected (default 20 ms). */
  fastPollMs?: number;
  /** Poll period otherwise (default 1000 ms). */
  idlePollMs?: number;
  /** How long after a send polling stays fast (default 30 s). */
  fastWindowMs?: number;
  /** Frames that are not DHCP for us, for diagnostics. */
  onDiscard?: (reason: string) => void;
}

export class LinkTransport implements DhcpTransport {
  private readonly rx: PacketSocket;
  private readonly tx: DeviceUdpSocket;
  private handler: ((p: Buffer) => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private fastUntil = 0;
  private timerFast = false;
  private inTick = false;
  private closed = false;

  constructor(private readonly o: LinkTransportOptions) {
    this.rx = new PacketSocket(o.ifindex, ETH_P_IP, DHCP_CLIENT_FILTER);
    try {
      this.tx = new DeviceUdpSocket(o.ifname, CLIENT_PORT);
    } catch (e) {
      this.rx.close();
      throw e;
    }
    this.schedule();
  }

  broadcast(packet: Buffer): void {
    this.tx.send(packet, "255.255.255.255", SERVER_PORT);
    this.goFast();
  }

  unicast(packet: Buffer, server: string): void {
    this.tx.send(packet, server, SERVER_PORT);
    this.goFast();
  }

  onPacket(fn: (packet: Buffer) => void): void {
    this.handler = fn;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.rx.close();
    this.tx.close();
  }

  /** Reads everything queued now; public so a caller (or a test) may poll at once. */
  poll(): void {
    for (let f = this.rx.receive(); f; f = this.rx.receive()) {
      if (f.outgoing) continue;
      const u = udpPayload(f.data);
      if (!u.ok) {
        this.o.onDiscard?.(u.reason);
        continue;
      }
      this.handler?.(u.payload);
    }
    while (this.tx.receive()) {
      // Same datagrams the packet socket already delivered (when the IP stack accepted them).
    }
  }

  private goFast(): void {
    this.fastUntil = performance.now() + (this.o.fastWindowMs ?? 30_000);
    // Inside a tick the next timer is armed when the tick ends; a fast timer is already due soon.
    if (this.closed || this.inTick || this.timerFast) return;
    clearTimeout(this.timer);
    this.schedule();
  }

  private schedule(): void {
    this.timerFast = performance.now() < this.fastUntil;
    this.timer = setTimeout(
      () => {
        if (this.closed) return;
        this.inTick = true;
        try {
          this.poll();
        } catch (e) {
          this.o.onDiscard?.(`receive failed: ${String(e)}`);
        } finally {
          this.inTick = false;
        }
        if (!this.closed) this.schedule();
      },
      this.timerFast ? (this.o.fastPollMs ?? 20) : (this.o.idlePollMs ?? 1000),
    );
  }
}
