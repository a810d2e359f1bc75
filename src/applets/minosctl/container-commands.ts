// minosctl's container commands, as talosctl's: `containers`, `stats` and
// `restart ID` ask about containerd's "system" namespace (minos's container
// services) by default, and with -k/--kubernetes about "k8s.io" through the
// CRI driver. Columns and their order are talosctl's; a container inside a
// pod is shown under it ("└─ ").
import type { common } from "../../api/client.ts";
import type { Command, CommandContext, FlagDoc } from "./cli.ts";
import { emit, need, replies, single } from "./commands.ts";
import { table } from "./format.ts";

export const KUBERNETES_FLAG: FlagDoc = {
  name: "kubernetes",
  short: "k",
  help: "use the k8s.io containerd namespace (Kubernetes' containers, the CRI driver)",
};

/** The namespace and driver talosctl sends: system/CONTAINERD, or k8s.io/CRI with -k. */
export function namespaceOf(ctx: CommandContext): { namespace: string; driver: common.ContainerDriver } {
  return ctx.flags.kubernetes ? { namespace: "k8s.io", driver: "CRI" } : { namespace: "system", driver: "CONTAINERD" };
}

/** A container of a pod is shown indented under it. */
const shown = (c: { id: string; pod_id: string }) => (c.id !== c.pod_id ? `└─ ${c.id}` : c.id);
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export const CONTAINER_COMMANDS: Command[] = [
  {
    name: "containers",
    summary: "containers with a task (containerd's system namespace; -k: Kubernetes')",
    flags: [KUBERNETES_FLAG],
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Containers", namespaceOf(ctx)), "Containers");
      emit(ctx, single(all.map((r) => r.msg.containers)), () =>
        table(
          ["NODE", "NAMESPACE", "ID", "IMAGE", "PID", "STATUS"],
          all.flatMap(({ host, msg }) => [...msg.containers].sort(byId).map((c) => [host, c.namespace, shown(c), c.image, c.pid, c.status])),
        ),
      );
      return 0;
    },
  },

  {
    name: "stats",
    summary: "memory and CPU use of running containers (system namespace; -k: Kubernetes')",
    description:
      "MEMORY(MB) is in millions of bytes and CPU in nanoseconds of CPU time, as talosctl prints them. Was /proc/stat's counters before minos 0.2: that is `minosctl systemstat`.",
    flags: [KUBERNETES_FLAG],
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Stats", namespaceOf(ctx)), "Stats");
      emit(ctx, single(all.map((r) => r.msg.stats)), () =>
        table(
          ["NODE", "NAMESPACE", "ID", "MEMORY(MB)", "CPU"],
          all.flatMap(({ host, msg }) =>
            [...msg.stats].sort(byId).map((s) => [host, s.namespace, shown(s), (Number(s.memory_usage) * 1e-6).toFixed(2), String(s.cpu_usage)]),
          ),
        ),
      );
      return 0;
    },
  },

  {
    name: "restart",
    args: "ID",
    summary: "restart a container (SIGTERM to its task; its service or the kubelet starts it again)",
    description:
      "A minos service's container comes back through its supervisor; one whose restart policy would leave it stopped is restarted by the supervisor directly. `minosctl service ID restart` restarts a service, container or not.",
    flags: [KUBERNETES_FLAG],
    async run(ctx) {
      const id = need(ctx, 0, "container id");
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Restart", { ...namespaceOf(ctx), id }), "Restart");
      emit(ctx, single(all.map((r) => ({ node: r.host, id }))), () =>
        all.map((r) => `${ctx.nodes.length > 1 ? `${r.host}: ` : ""}restarting ${id}\n`).join(""),
      );
      return 0;
    },
  },
];
