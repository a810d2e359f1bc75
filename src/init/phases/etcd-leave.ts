// The first phase of a graceful power-off, halt or Reset of a control-plane
// node: leave the etcd cluster (as Talos does: `etcd leave`, the member
// removes itself through the others), so the others do not keep waiting for a
// member that is gone; then etcd stops and its data is wiped. A plain reboot
// keeps the membership (the node comes back). A node that is the last member,
// or whose etcd is not running, stays as it is.
import { errText } from "../mechanisms/log.ts";
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function leaveEtcdTask(ctx: NodeContext): Task {
  return {
    name: "leave etcd",
    run: async () => {
      const member = ctx.etcd.peek();
      const svc = ctx.services.peek()?.find("etcd");
      if (!member || !svc) return skipped("no etcd on this node");
      if (svc.state !== "Running") return skipped(`etcd is ${svc.state}`);
      try {
        await member.leave();
      } catch (e) {
        return skipped(`staying a member: ${errText(e)}`);
      }
      await svc.stop();
      member.wipe();
      ctx.log.info("  left the etcd cluster; data wiped");
    },
  };
}
