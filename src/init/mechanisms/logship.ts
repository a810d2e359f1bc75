// machine.logging.destinations: init's own log and every service's, as
// json_lines (Talos's format: one JSON object per line with msg, talos-level,
// talos-service, talos-time plus extraTags) over UDP or TCP. Best effort: a
// destination that is down or slow never slows the node, and never makes it
// hold more than SHIP_BACKLOG_BYTES for it.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import type { LoggingDestination } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";

/**
 * What one destination may hold for sending: beyond it lines are dropped (the
 * destination, or the lookup of its name, lags), as a lossy log transport
 * would, instead of queueing in PID 1 without bound.
 */
export const SHIP_BACKLOG_BYTES = 1 << 20;
/** Datagrams in flight to one UDP destination (each may wait on a name lookup). */
export const SHIP_UDP_IN_FLIGHT = 1024;

export interface Sender {
  send(line: string): void;
  /** Bytes accepted but not yet handed to the kernel. */
  readonly backlogBytes: number;
}

export function udpSender(host: string, port: number): Sender {
  let sock: UdpSocket | undefined;
  // Bun queues every send (measured: 200,000 sends held +150 MiB; to a name, +300 MiB of lookups) and
  // calls back each one, sent or failed: count what is in flight.
  let inFlight = 0;
  let bytes = 0;
  return {
    send(line) {
      const n = Buffer.byteLength(line);
      if (inFlight >= SHIP_UDP_IN_FLIGHT || bytes + n > SHIP_BACKLOG_BYTES) return;
      sock ??= createSocket("udp4").on("error", () => {});
      inFlight++;
      bytes += n;
      sock.send(line, port, host, () => {
        inFlight--;
        bytes -= n;
      });
    },
    get backlogBytes() {
      return bytes;
    },
  };
}

export function tcpSender(host: string, port: number): Sender {
  let sock: Socket | undefined;
  let retryAt = 0;
  return {
    send(line) {
      if (!sock || sock.destroyed) {
        if (Date.now() < retryAt) return;
        retryAt = Date.now() + 5000;
        sock = connect({ host, port }).on("error", () => sock?.destroy());
      }
      if (sock.writableLength + Buffer.byteLength(line) <= SHIP_BACKLOG_BYTES) sock.write(line);
    },
    get backlogBytes() {
      return sock && !sock.destroyed ? sock.writableLength : 0;
    },
  };
}

export function startLogShipping(ctx: NodeContext, dests: LoggingDestination[]): void {
  const senders = dests.map((d) => {
    const m = /^(tcp|udp):\/\/([^/:]+):(\d+)$/.exec(d.endpoint)!;
    const s = m[1] === "udp" ? udpSender(m[2]!, Number(m[3])) : tcpSender(m[2]!, Number(m[3]));
    return { s, tags: d.extraTags };
  });
  const ship = (service: string, msg: string) => {
    for (const { s, tags } of senders) {
      try {
        s.send(JSON.stringify({ msg, "talos-level": "info", "talos-service": service, "talos-time": new Date().toISOString(), ...tags }) + "\n");
      } catch {}
    }
  };
  ctx.log.ring.follow((line) => ship("machined", line.replace(/^\S+ /, "")));
  // Services are declared later in the boot: follow each one's ring when it appears.
  const followed = new Set<string>();
  ctx.events.subscribe((e) => {
    const svc = e.kind === "service" && !followed.has(e.service) ? ctx.services.peek()?.find(e.service) : undefined;
    if (!svc) return;
    followed.add(svc.id);
    svc.logs.follow((line) => ship(svc.id, line));
  });
}
