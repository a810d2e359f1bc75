// The "etcd" service of a control-plane node: the supervisor runs it, the
// member controller (src/etcd/member.ts) decides in its prepare step how it
// starts (rejoin, bootstrap, or join as a learner), and the spec becomes a
// process of the etcd binary the node was given. The container runner
// (issue 15) replaces asProcess() with a container of cluster.etcd.image
// built from the same EtcdRunSpec; nothing else here changes.
import { existsSync, mkdirSync } from "node:fs";
import { asProcess } from "../../etcd/service.ts";
import type { EtcdMember } from "../../etcd/member.ts";
import { serviceSpec, type ServiceSpec } from "../supervisor/spec.ts";

/** Where a node's etcd binary is looked for; MINOS_ETCD_BINARY overrides it (the sandbox tests' /test/etcd). */
export const DEFAULT_ETCD_BINARY = "/usr/local/bin/etcd";

export function etcdServiceSpec(member: EtcdMember, binary: string, image: string): ServiceSpec {
  const spec: ServiceSpec = serviceSpec({
    id: "etcd",
    command: [binary],
    cgroup: "system/etcd",
    oomScore: -998,
    droppedCaps: ["CAP_SYS_BOOT", "CAP_SYS_MODULE"],
    precondition: () =>
      existsSync(binary) ? undefined : `${binary} is not on the node: etcd runs as a process until the container runner runs ${image} (docs/etcd.md)`,
    prepare: async (ctx) => {
      const run = await member.prepare(ctx);
      mkdirSync(run.dataDir, { recursive: true, mode: 0o700 });
      spec.command = asProcess(run, binary);
      spec.env = run.env;
    },
    backoff: { initialMs: 500, maxMs: 30_000 },
    stopGraceMs: 15_000,
    health: {
      check: async () => {
        const c = member.local();
        try {
          const st = await c.status();
          if (st.errors.length) throw new Error(st.errors.join("; "));
        } finally {
          c.close();
        }
      },
      startIntervalMs: 500,
      intervalMs: 5000,
      timeoutMs: 5000,
    },
  });
  return spec;
}
