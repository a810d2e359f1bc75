// Boot phases "earlyMounts" and "mounts": the pseudo and temporary
// filesystems, in order, and the nodes a sandbox's tmpfs /dev needs. The early
// ones (/proc, /sys, /dev) come first and alone so /dev/kmsg can be attached
// right after them (phase "kmsg"). /system/run is never mounted over: the host
// reaches the sandbox's API socket through the rootfs directory.
import { fstatSync, openSync } from "node:fs";
import { dup2 } from "../../sys/process.ts";
import { earlyMounts, mountOne, populateDev, type MountSpec } from "../mechanisms/mounts.ts";
import type { NodeContext } from "../context.ts";
import { EPHEMERAL_DIR, isMountPoint } from "../mechanisms/system-disk.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** What the kernel log and the console need: everything else is mounted after kmsg is attached. */
const FIRST = ["/proc", "/sys", "/dev"];

function mountTask(m: MountSpec): Task {
  return {
    name: `mount ${m.target} (${m.fstype})`,
    run: () => {
      // EPHEMERAL (phase "state") is /var on an installed node: no tmpfs over it.
      if (m.target === EPHEMERAL_DIR && isMountPoint(m.target)) return skipped("EPHEMERAL is mounted there");
      mountOne(m);
    },
  };
}

/** /proc, /sys, /dev, then /dev's nodes (sandbox) or a console (a kernel boot that gave init none). */
export function earlyMountTasks(ctx: NodeContext): Task[] {
  return [
    ...earlyMounts(ctx.sandbox)
      .filter((m) => FIRST.includes(m.target))
      .map((m) => mountTask(m)),
    {
      name: "populate /dev",
      run: () => {
        if (!ctx.sandbox) return skipped("devtmpfs has the device nodes");
        const made = populateDev();
        ctx.log.info(`  created ${made.join(", ")} (no /dev/kmsg: the kernel log belongs to the host)`);
      },
    },
    {
      name: "console",
      run: () => {
        if (ctx.sandbox) return skipped("sandbox: the launcher's pipe is the console");
        if (hasFd(1)) return skipped("the kernel opened /dev/console for init");
        const fd = openSync("/dev/console", "r+");
        for (const to of [0, 1, 2]) dup2(fd, to);
      },
    },
  ];
}

/** The rest of the early mounts: /dev/pts, /dev/shm, /run, /tmp, /var, cgroup2. */
export function mountTasks(ctx: NodeContext): Task[] {
  return earlyMounts(ctx.sandbox)
    .filter((m) => !FIRST.includes(m.target))
    .map((m) => mountTask(m));
}

function hasFd(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}
