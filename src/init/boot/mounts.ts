// Boot phase "mounts": the pseudo and temporary filesystems, in order, and the
// nodes a sandbox's tmpfs /dev needs. /system/run is never mounted over: the
// host reaches the sandbox's API socket through the rootfs directory.
import { fstatSync, openSync } from "node:fs";
import { dup2 } from "../../sys/process.ts";
import { earlyMounts, mountOne, populateDev } from "../mounts.ts";
import type { Node } from "../node.ts";
import { skipped, type Task } from "../sequencer.ts";

export function mountTasks(node: Node): Task[] {
  const tasks: Task[] = earlyMounts(node.sandbox).map((m) => ({
    name: `mount ${m.target} (${m.fstype})`,
    run: () => {
      mountOne(m);
      node.mounted.push(m.target);
    },
  }));
  // Right after /dev (index 2): its nodes, then a console for a kernel boot that gave init none.
  tasks.splice(3, 0, {
    name: "populate /dev",
    run: () => {
      if (!node.sandbox) return skipped("devtmpfs has the device nodes");
      const made = populateDev();
      node.log.info(`  created ${made.join(", ")} (no /dev/kmsg: the kernel log belongs to the host)`);
    },
  }, {
    name: "console",
    run: () => {
      if (node.sandbox) return skipped("sandbox: the launcher's pipe is the console");
      if (hasFd(1)) return skipped("the kernel opened /dev/console for init");
      const fd = openSync("/dev/console", "r+");
      for (const to of [0, 1, 2]) dup2(fd, to);
    },
  });
  return tasks;
}

function hasFd(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
