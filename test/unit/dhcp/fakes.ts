// A fake clock (timers run only when the test advances time), a fake
// transport that records what the client sends, and a scripted server that
// builds replies with the real codec.
import type { Clock, Timer } from "../../../src/dhcp/clock.ts";
import type { DhcpTransport, LeaseApplier, ExpiryReason, AddressProbe } from "../../../src/dhcp/client.ts";
import type { Lease } from "../../../src/dhcp/lease.ts";
import {
  decodeMessage,
  encodeMessage,
  newMessage,
  MessageType,
  Opt,
  BOOTREPLY,
  messageTypeName,
  type DhcpMessage,
  type MessageTypeName,
} from "../../../src/dhcp/message.ts";
import { encodeIps, encodeU32 } from "../../../src/dhcp/options.ts";

export class FakeClock implements Clock {
  private t = 0;
  private timers: { at: number; fn: () => void; id: number; live: boolean }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): Timer {
    const entry = { at: this.t + ms, fn, id: ++this.ids, live: true };
    this.timers.push(entry);
    return { cancel: () => void (entry.live = false) };
  }
  /** Runs every timer due within `ms`, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export interface Sent {
  at: number;
  to: string;
  msg: DhcpMessage;
  type: MessageTypeName | undefined;
}

export class FakeTransport implements DhcpTransport {
  sent: Sent[] = [];
  closed = false;
  private handler: ((p: Buffer) => void) | undefined;
  constructor(private readonly clock: FakeClock) {}
  broadcast(packet: Buffer): void {
    this.record(packet, "broadcast");
  }
  unicast(packet: Buffer, server: string): void {
    this.record(packet, server);
  }
  onPacket(fn: (packet: Buffer) => void): void {
    this.handler = fn;
  }
  close(): void {
    this.closed = true;
  }
  deliver(p: Buffer): void {
    this.handler?.(p);
  }
  last(): Sent {
    const s = this.sent.at(-1);
    if (!s) throw new Error("nothing sent");
    return s;
  }
  private record(packet: Buffer, to: string): void {
    const d = decodeMessage(packet);
    if (!d.ok) throw new Error(`client sent an undecodable packet: ${d.reason}`);
    this.sent.push({ at: this.clock.now(), to, msg: d.msg, type: messageTypeName(d.msg.options.get(Opt.messageType)?.[0]) });
  }
}

export class RecordingApplier implements LeaseApplier {
  calls: string[] = [];
  leases: Lease[] = [];
  fail = false;
  onBound(lease: Lease): void {
    this.calls.push(`bound ${lease.address}`);
    this.leases.push(lease);
    if (this.fail) throw new Error("applier failed");
  }
  onRenewed(lease: Lease, previous: Lease): void {
    this.calls.push(`renewed ${lease.address} (was ${previous.address})`);
    this.leases.push(lease);
  }
  onExpired(lease: Lease, reason: ExpiryReason): void {
    this.calls.push(`expired ${lease.address} ${reason}`);
  }
}

export class FakeProbe implements AddressProbe {
  inUseAddresses = new Set<string>();
  probed: string[] = [];
  announced: string[] = [];
  announce(address: string): void {
    this.announced.push(address);
  }
  inUse(address: string): Promise<boolean> {
    this.probed.push(address);
    return Promise.resolve(this.inUseAddresses.has(address));
  }
}

export const MAC = Buffer.from([0x02, 0, 0x5e, 0x10, 0, 0x42]);

export interface ReplyOpts {
  server?: string;
  yiaddr?: string;
  lease?: number;
  t1?: number;
  t2?: number;
  mask?: string;
  router?: string;
  xid?: number;
  chaddr?: Buffer;
  omitServerId?: boolean;
  extra?: [number, Buffer][];
}

/** A server reply to `req` built with the real encoder. */
export function reply(req: DhcpMessage, type: MessageTypeName, o: ReplyOpts = {}): Buffer {
  const m = newMessage({
    op: BOOTREPLY,
    xid: o.xid ?? req.xid,
    chaddr: o.chaddr ?? req.chaddr,
    yiaddr: type === "nak" ? "0.0.0.0" : (o.yiaddr ?? "192.168.7.20"),
  });
  m.options.set(Opt.messageType, Buffer.from([MessageType[type]]));
  if (!o.omitServerId) m.options.set(Opt.serverId, encodeIps([o.server ?? "192.168.7.1"]));
  if (type !== "nak") {
    m.options.set(Opt.leaseTime, encodeU32(o.lease ?? 3600));
    if (o.t1 !== undefined) m.options.set(Opt.renewalTime, encodeU32(o.t1));
    if (o.t2 !== undefined) m.options.set(Opt.rebindingTime, encodeU32(o.t2));
    m.options.set(Opt.subnetMask, encodeIps([o.mask ?? "255.255.255.0"]));
    m.options.set(Opt.router, encodeIps([o.router ?? "192.168.7.1"]));
  }
  for (const [k, v] of o.extra ?? []) m.options.set(k, v);
  return encodeMessage(m);
}
