// RFC 5227 §2.1 address probing before an offered address is used: ARP
// requests with sender IP 0.0.0.0 for the address, then a quiet wait. Any ARP
// from another host claiming the address (as sender), or probing for it at
// the same time, is a conflict. Runs on an AF_PACKET socket opened only for
// the probe, polled every 20 ms.
import { PacketSocket, ETH_P_ARP, BROADCAST_MAC } from "../sys/packet.ts";
import type { AddressProbe } from "./client.ts";
import { ipBytes, ipFromBytes } from "./ipv4.ts";
import { realClock, type Clock } from "./clock.ts";

export interface ArpProbeTiming {
  /** PROBE_NUM (RFC 5227: 3). */
  probes: number;
  /** PROBE_MIN / PROBE_MAX, ms (RFC 5227: 1000 / 2000). */
  minIntervalMs: number;
  maxIntervalMs: number;
  /** ANNOUNCE_WAIT after the last probe, ms (RFC 5227: 2000). */
  waitMs: number;
}

export const RFC5227_TIMING: ArpProbeTiming = { probes: 3, minIntervalMs: 1000, maxIntervalMs: 2000, waitMs: 2000 };

/** ANNOUNCE_NUM and ANNOUNCE_INTERVAL (RFC 5227 §2.3). */
const ANNOUNCEMENTS = 2;
const ANNOUNCE_INTERVAL_MS = 2000;

/** An Ethernet/IPv4 ARP message (RFC 826): 28 bytes. */
export function arpPacket(op: 1 | 2, senderMac: Buffer, senderIp: string, targetMac: Buffer, targetIp: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // htype Ethernet
  b.writeUInt16BE(0x0800, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  senderMac.copy(b, 8);
  ipBytes(senderIp).copy(b, 14);
  targetMac.copy(b, 18);
  ipBytes(targetIp).copy(b, 24);
  return b;
}

/** True when this ARP message (from another host) means `address` is taken or contested. */
export function arpConflicts(arp: Buffer, address: string, ourMac: Buffer): boolean {
  if (arp.length < 28 || arp.readUInt16BE(2) !== 0x0800 || arp[4] !== 6 || arp[5] !== 4) return false;
  const sha = arp.subarray(8, 14);
  if (sha.equals(ourMac)) return false;
  const spa = ipFromBytes(arp, 14);
  const tpa = ipFromBytes(arp, 24);
  if (spa === address) return true;
  // RFC 5227 §2.1.1: another host probing for the same address at the same time.
  return arp.readUInt16BE(6) === 1 && spa === "0.0.0.0" && tpa === address;
}

export class ArpProbe implements AddressProbe {
  constructor(
    private readonly ifindex: number,
    private readonly mac: Buffer,
    private readonly timing: ArpProbeTiming = RFC5227_TIMING,
    private readonly clock: Clock = realClock,
    private readonly random: () => number = Math.random,
  ) {}

  /** Two gratuitous ARP requests (sender = target = address), 2 s apart, so neighbours update their caches. */
  announce(address: string): void {
    let sock: PacketSocket;
    try {
      sock = new PacketSocket(this.ifindex, ETH_P_ARP);
    } catch {
      return;
    }
    const pkt = arpPacket(1, this.mac, address, Buffer.alloc(6), address);
    let sent = 0;
    const once = () => {
      try {
        sock.send(pkt, BROADCAST_MAC);
      } catch {
        // Announcements are a courtesy; a failure changes nothing we own.
      }
      if (++sent < ANNOUNCEMENTS) this.clock.after(ANNOUNCE_INTERVAL_MS, once);
      else sock.close();
    };
    once();
  }

  /** RFC 5227's initial random PROBE_WAIT (0–1 s) is left out: it only spreads hosts that power on together, and costs every boot. */
  inUse(address: string): Promise<boolean> {
    const sock = new PacketSocket(this.ifindex, ETH_P_ARP);
    const t = this.timing;
    const probe = arpPacket(1, this.mac, "0.0.0.0", Buffer.alloc(6), address);
    return new Promise<boolean>((resolve) => {
      let sent = 0;
      let done = false;
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        clearInterval(poller);
        step.cancel();
        sock.close();
        resolve(v);
      };
      const poller = setInterval(() => {
        try {
          for (let f = sock.receive(); f; f = sock.receive()) if (!f.outgoing && arpConflicts(f.data, address, this.mac)) return finish(true);
        } catch {
          finish(false);
        }
      }, 20);
      const next = (): ReturnType<Clock["after"]> => {
        if (sent === t.probes) return this.clock.after(t.waitMs, () => finish(false));
        return this.clock.after(sent === 0 ? 0 : t.minIntervalMs + this.random() * (t.maxIntervalMs - t.minIntervalMs), () => {
          try {
            sock.send(probe, BROADCAST_MAC);
          } catch {
            // A lost probe only makes the check weaker; carry on.
          }
          sent++;
          step = next();
        });
      };
      let step = next();
    });
  }
}
