// A virtual world for the time-sync unit tests: virtual timers (time advances
// only when the test runs them), a machine clock that is off from "true" time
// by a skew, and an in-memory UDP network with scripted NTP servers.
import { logOnlyClock } from "../../../src/time/adjuster.ts";
import type { Clock, Datagram, Timers, UdpEndpoint, UdpTransport } from "../../../src/time/deps.ts";
import { decodePacket, encodePacket, type NtpPacket } from "../../../src/time/packet.ts";
import { unixNsToNtp } from "../../../src/time/timestamp.ts";

/** 2026-12-01T00:00:00Z, when the virtual world's true time starts. */
export const EPOCH_NS = 1_796_083_200n * 1_000_000_000n;

export class VirtualTimers implements Timers {
  now = 0;
  private seq = 0;
  private queue: { at: number; seq: number; fn: () => void }[] = [];
  setTimeout(fn: () => void, ms: number): () => void {
    const t = { at: this.now + Math.max(0, ms), seq: this.seq++, fn };
    this.queue.push(t);
    return () => {
      this.queue = this.queue.filter((x) => x !== t);
    };
  }
  monoMs(): number {
    return this.now;
  }
  pending(): number {
    return this.queue.length;
  }
  /** Runs timers in order until virtual time `untilMs` (or `stop()` says so), letting promises settle between them. */
  async runUntil(untilMs: number, stop: () => boolean = () => false): Promise<void> {
    for (;;) {
      await flush();
      if (stop()) return;
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > untilMs) break;
      this.queue.shift();
      this.now = next.at;
      next.fn();
    }
    this.now = Math.max(this.now, untilMs);
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** What a scripted server does with one request. */
export type ServerScript = (req: NtpPacket, trueNs: bigint) => Uint8Array | undefined;

export interface ServerOptions {
  skewNs?: bigint;
  stratum?: number;
  leap?: number;
  refId?: number;
  rootDelay?: number;
  rootDispersion?: number;
  version?: number;
  mode?: number;
  /** Server processing time between T2 and T3, ns. */
  processNs?: bigint;
  /** Rewrite the reply before it is sent. */
  tamper?: (p: NtpPacket) => NtpPacket;
}

/** A well-behaved server with a clock `skewNs` off true time. */
export function ntpServer(o: ServerOptions = {}): ServerScript {
  return (req, trueNs) => {
    const t2 = trueNs + (o.skewNs ?? 0n);
    const t3 = t2 + (o.processNs ?? 0n);
    let p: NtpPacket = {
      leap: o.leap ?? 0,
      version: o.version ?? req.version,
      mode: o.mode ?? 4,
      stratum: o.stratum ?? 2,
      poll: req.poll,
      precision: -20,
      rootDelay: o.rootDelay ?? 0.01,
      rootDispersion: o.rootDispersion ?? 0.01,
      refId: o.refId ?? 0x0a000001,
      referenceTs: unixNsToNtp(t2 - 1_000_000_000n),
      originTs: req.transmitTs,
      receiveTs: unixNsToNtp(t2),
      transmitTs: unixNsToNtp(t3),
    };
    if (o.tamper) p = o.tamper(p);
    return encodePacket(p);
  };
}

export const kiss = (code: string): number => [...code.padEnd(4, "\0")].reduce((a, c) => ((a << 8) | c.charCodeAt(0)) >>> 0, 0);

interface Host {
  /** undefined: the port is closed (ICMP port unreachable -> onError). */
  script: ServerScript | undefined;
  /** One-way latency, ms (each direction, unless backLatencyMs is set). */
  latencyMs: number;
  /** The return leg's latency, if different (scripts may change it per request). */
  backLatencyMs?: number;
  /** Reply from this address instead (a spoofer / misrouted answer). */
  replyFrom?: { address: string; port: number };
}

/** The in-memory network: servers by "address:port", requests counted. */
export class FakeNet implements UdpTransport {
  hosts = new Map<string, Host>();
  requests: { to: string; atMs: number }[] = [];
  constructor(
    private timers: VirtualTimers,
    private trueNs: () => bigint,
  ) {}
  serve(addr: string, script: ServerScript, latencyMs = 5, replyFrom?: { address: string; port: number }): void {
    this.hosts.set(addr, replyFrom ? { script, latencyMs, replyFrom } : { script, latencyMs });
  }
  count(addr: string): number {
    return this.requests.filter((r) => r.to === addr).length;
  }
  /** A host whose NTP port is closed: the kernel answers ICMP port unreachable. */
  closed(addr: string, latencyMs = 5): void {
    this.hosts.set(addr, { script: undefined, latencyMs });
  }
  async open(_family: 4 | 6, onDatagram: Datagram, onError: (e: Error) => void): Promise<UdpEndpoint> {
    let closed = false;
    return {
      send: (data, address, port) => {
        const key = `${address}:${port}`;
        this.requests.push({ to: key, atMs: this.timers.now });
        const host = this.hosts.get(key);
        if (!host) return; // nobody there: the query times out
        const req = decodePacket(data)!;
        const script = host.script;
        if (!script) {
          this.timers.setTimeout(() => !closed && onError(new Error("ECONNREFUSED: connection refused, recv")), 2 * host.latencyMs);
          return;
        }
        this.timers.setTimeout(() => {
          const reply = script(req, this.trueNs());
          if (!reply) return;
          this.timers.setTimeout(() => {
            if (!closed) onDatagram(reply, host.replyFrom?.address ?? address, host.replyFrom?.port ?? port);
          }, host.backLatencyMs ?? host.latencyMs);
        }, host.latencyMs);
      },
      close: () => {
        closed = true;
      },
    };
  }
}

/** The whole world: timers, true time, a machine clock `skewNs` off it behind a log-only adjuster. */
export function world(skewNs = 0n) {
  const timers = new VirtualTimers();
  const trueNs = () => EPOCH_NS + BigInt(Math.round(timers.now * 1e6));
  const raw: Clock = { realtimeNs: () => trueNs() + skewNs };
  const { clock, adjuster, applied } = logOnlyClock(raw);
  const net = new FakeNet(timers, trueNs);
  return { timers, trueNs, clock, adjuster, applied, net };
}
