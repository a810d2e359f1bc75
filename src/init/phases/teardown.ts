// The teardown's tasks, after a sequence that ends the node: SIGTERM every
// remaining process, wait, SIGKILL → unmount everything in reverse mount order
// (detach as a last resort) → remount / read-only → sync. init's main runs
// them (sequences/teardown.ts lists them) and then calls reboot(2).
import { kill, SIG } from "../../sys/process.ts";
import { MS, mount } from "../../sys/mount.ts";
import { sync } from "../../sys/reboot.ts";
import type { NodeContext } from "../context.ts";
import { mountTable, unmountAll, unmountOne } from "../mechanisms/mounts.ts";
import { openForWipe, wipeOpened, type OpenedPartition } from "../mechanisms/system-disk.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** kill(-1, sig): every process but PID 1 (in a PID namespace, only the node's). Waits for them to be reaped. */
export function killAllTask(ctx: NodeContext, sig: typeof SIG.SIGTERM | typeof SIG.SIGKILL, waitMs: number): Task {
  return {
    name: sig === SIG.SIGKILL ? "SIGKILL remaining processes" : "SIGTERM remaining processes",
    run: async () => {
      if (await ctx.reaper.waitNoChildren(0)) return skipped("no processes left");
      try {
        kill(-1, sig);
      } catch (e) {
        if (!(e instanceof Error && /ESRCH/.test(e.message))) throw e;
      }
      const gone = await ctx.reaper.waitNoChildren(waitMs);
      ctx.log.info(`  ${gone ? "all gone" : `some remain after ${waitMs} ms`}`);
    },
  };
}

export function reaperReportTask(ctx: NodeContext): Task {
  return {
    name: "reaper report",
    run: () => {
      const r = ctx.reaper.snapshot();
      ctx.log.info(`  reaper: ${r.orphans} orphans reaped, ${r.watched} supervised exits delivered, ${ctx.reaper.watching} still watched`);
    },
  };
}

export function unmountTask(ctx: NodeContext): Task {
  return {
    name: "unmount all",
    run: () => {
      ctx.log.close(); // /dev/kmsg lives on /dev
      const r = unmountAll(["/proc"]);
      // /proc last: mountinfo is how we know what is left.
      const left = mountTable().filter((m) => m.target !== "/" && m.target !== "/proc");
      const procHow = unmountOne("/proc");
      ctx.log.info(
        `  unmounted ${r.unmounted.length + (procHow === "unmounted" ? 1 : 0)}, detached ${r.detached.length + (procHow === "detached" ? 1 : 0)}: ${[...r.unmounted, ...r.detached.map((d) => `${d} (detached)`), `/proc${procHow === "detached" ? " (detached)" : ""}`].join(" ")}`,
      );
      if (r.failed.length) ctx.log.warn(`  failed: ${r.failed.join("; ")}`);
      ctx.log.info(left.length === 0 ? "  nothing mounted" : `  still mounted: ${left.map((m) => m.target).join(" ")}`);
    },
  };
}

export function remountRootTask(ctx: NodeContext): Task {
  return {
    name: "remount / read-only",
    run: () => {
      // The sandbox's / is a directory of the host's filesystem, not the node's to remount.
      if (ctx.sandbox) return skipped("sandbox: / belongs to the host");
      mount("", "/", null, MS.REMOUNT | MS.RDONLY);
    },
  };
}

export function syncTask(): Task {
  return { name: "sync", run: () => sync() };
}

/**
 * A Reset's wipe, in two tasks: the partitions ctx.pendingWipe names are
 * opened before the unmount (their devices are gone once /dev is), and wiped
 * after it, when nothing can write them any more.
 */
export function wipeTasks(ctx: NodeContext): { open: Task; wipe: Task } {
  let opened: OpenedPartition[] = [];
  return {
    open: {
      name: "open partitions to wipe",
      run: async () => {
        if (ctx.pendingWipe.length === 0) return skipped("no reset");
        if (ctx.sandbox) return skipped("sandbox: the disks are the host's");
        opened = await openForWipe(ctx.pendingWipe, (l) => ctx.log.info(`  ${l}`));
        const missing = ctx.pendingWipe.filter((l) => !opened.some((o) => o.label === l));
        if (missing.length) ctx.log.info(`  no ${missing.join(", ")} partition: nothing to wipe there (state in RAM)`);
      },
    },
    wipe: {
      name: "wipe system partitions",
      run: () => {
        if (opened.length === 0) return skipped("nothing to wipe");
        for (const p of opened) {
          wipeOpened(p);
          ctx.log.info(`  wiped ${p.label} (${p.device})`);
        }
      },
    },
  };
}
