// Boot phase "api": the machine API on its unix socket and, with a machine CA,
// on TCP with mutual TLS.
import { existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { startMachineApi } from "../../api/server.ts";
import { API_SOCKET, API_TCP_PORT } from "../../node/paths.ts";
import { createBackend } from "../backend/machine.ts";
import { caPem } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";
import type { Task } from "../sequences/sequencer.ts";

export function apiTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "machine API",
      run: async () => {
        mkdirSync(dirname(API_SOCKET), { recursive: true, mode: 0o700 });
        if (existsSync(API_SOCKET)) unlinkSync(API_SOCKET); // a previous boot's socket
        const cfg = ctx.config.get().config;
        const ca = caPem(cfg);
        // The static addresses the network phase sets later: peers (a joining etcd member, -n forwarding) dial the node by them.
        const certIps = cfg.machine.network.interfaces.flatMap((i) => i.addresses.map((a) => a.split("/")[0]!));
        ctx.api.set(await startMachineApi(createBackend(ctx), { socketPath: API_SOCKET, ...(ca ? { ca, tcpPort: API_TCP_PORT, certIps } : {}) }));
        ctx.log.info(`  listening on ${API_SOCKET}${ca ? ` and TCP ${API_TCP_PORT} (mutual TLS)` : " (no machine.ca: no TCP listener)"}`);
      },
    },
  ];
}
