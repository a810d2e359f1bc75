// machine.logging.destinations: init's own log and every service's, as
// json_lines (Talos's format: one JSON object per line with msg, talos-level,
// talos-service, talos-time plus extraTags) over UDP or TCP. Best effort: a
// destination that is down never slows the ctx.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import type { LoggingDestination } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";

interface Sender {
  send(line: string): void;
}

function udpSender(host: string, port: number): Sender {
  let sock: UdpSocket | undefined;
  return {
    send(line) {
      sock ??= createSocket("udp4").on("error", () => {});
      sock.send(line, port, host, () => {});
    },
  };
}

function tcpSender(host: string, port: number): Sender {
  let sock: Socket | undefined;
  let retryAt = 0;
  return {
    send(line) {
      if (!sock || sock.destroyed) {
        if (Date.now() < retryAt) return;
        retryAt = Date.now() + 5000;
        sock = connect({ host, port }).on("error", () => sock?.destroy());
      }
      if (sock.writableLength < 1 << 20) sock.write(line);
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
