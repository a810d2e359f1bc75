// Boot phase "state", after the drivers are loaded and before the config is
// read: find the system disk's STATE and EPHEMERAL by label, check and repair
// them (xfs_repair; a dirty log is replayed by a mount), mount STATE at
// /system/state and EPHEMERAL at /var. Without an installed disk the state
// stays in RAM, and the console says so. A STATE that cannot be repaired
// sends the boot to maintenance mode (phase "maintenance") with the reason.
import type { NodeContext } from "../context.ts";
import { reaperRunner } from "../mechanisms/run.ts";
import { describeStorage, mountSystemDisk, ramStatus } from "../mechanisms/system-disk.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function stateTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "mount the system disk",
      run: async () => {
        if (ctx.sandbox) {
          ctx.storage = ramStatus("sandbox: the disks are the host's");
          return skipped("sandbox: the disks are the host's; /system/state is the rootfs directory");
        }
        ctx.storage = await mountSystemDisk(reaperRunner(ctx.reaper), (l) => ctx.log.info(`  ${l}`));
        if (ctx.storage.unusable) ctx.log.error(`  ${ctx.storage.unusable}`);
        ctx.log.info(`  ${describeStorage(ctx.storage)}`);
      },
    },
  ];
}
