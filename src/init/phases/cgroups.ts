// Boot phase "cgroups": the node's cgroup tree (init, system services, pods)
// under init's own cgroup.
import type { NodeContext } from "../context.ts";
import { CgroupTree, ownCgroup } from "../mechanisms/cgroups.ts";
import type { Task } from "../sequences/sequencer.ts";

export function cgroupTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "cgroup tree",
      run: async () => {
        const tree = new CgroupTree(ownCgroup());
        const { enabled, problems } = await tree.build();
        ctx.cgroups.set(tree);
        ctx.log.info(`  root ${tree.path("")}: init in ${tree.path("init")}, controllers ${enabled.join(" ") || "none"}`);
        for (const p of problems) ctx.log.info(`  not enabled: ${p}`);
      },
    },
  ];
}
