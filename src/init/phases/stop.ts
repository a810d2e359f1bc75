// The shutdown, reboot and halt sequences: stop services in reverse dependency
// order → close the API → SIGTERM every remaining process, wait, SIGKILL →
// unmount everything in reverse mount order (detach as a last resort) →
// remount / read-only → sync → reboot(2). In a PID namespace reboot(2) ends
// init with SIGINT (power off, halt) or SIGHUP (restart): the sandbox's exit.
import { kill, SIG } from "../../sys/process.ts";
import { MS, mount } from "../../sys/mount.ts";
import { reboot, sync, type RebootCommand } from "../../sys/reboot.ts";
import { mountTable, unmountAll, unmountOne } from "../mechanisms/mounts.ts";
import type { Node } from "../context.ts";
import { skipped, type Phase, type Sequence, type SequenceName, type Task } from "../sequences/sequencer.ts";

const { SIGTERM, SIGKILL } = SIG;
/** How long every remaining process gets after SIGTERM, and after SIGKILL. */
export const TERM_GRACE_MS = 5000;
export const KILL_WAIT_MS = 5000;

const COMMAND: Record<"shutdown" | "reboot" | "halt", RebootCommand> = { shutdown: "POWER_OFF", reboot: "RESTART", halt: "HALT" };

export function powerSequence(node: Node, name: "shutdown" | "reboot" | "halt"): Sequence {
  const phase = (n: string, ...tasks: Task[]): Phase => ({ name: n, tasks });
  return {
    name: name as SequenceName,
    onTaskError: "continue",
    phases: [
      phase("stopServices", stopServicesTask(node)),
      phase("stopApi", stopApiTask(node)),
      phase("killProcesses", killAllTask(node, SIGTERM, TERM_GRACE_MS), killAllTask(node, SIGKILL, KILL_WAIT_MS), reaperReportTask(node)),
      phase("unmount", unmountTask(node)),
      phase("remountRoot", remountRootTask(node)),
      phase("sync", { name: "sync", run: () => sync() }),
      phase("power", powerTask(node, COMMAND[name])),
    ],
  };
}

export function stopServicesTask(node: Node): Task {
  return {
    name: "stop services",
    run: async () => {
      const reg = node.services;
      if (!reg) return skipped("no services were started");
      await reg.stopAll((id, msg) => node.log.info(`  stopped ${id}: ${msg}`));
    },
  };
}

function stopApiTask(node: Node): Task {
  return {
    name: "close machine API",
    run: async () => {
      if (!node.api) return skipped("the API was not started");
      await node.api.close();
      node.api = undefined;
    },
  };
}

/** kill(-1, sig): every process but PID 1 (in a PID namespace, only the node's). Waits for them to be reaped. */
export function killAllTask(node: Node, sig: number, waitMs: number): Task {
  return {
    name: sig === SIGKILL ? "SIGKILL remaining processes" : "SIGTERM remaining processes",
    run: async () => {
      if (await node.reaper.waitNoChildren(0)) return skipped("no processes left");
      try {
        kill(-1, sig);
      } catch (e) {
        if (!(e instanceof Error && /ESRCH/.test(e.message))) throw e;
      }
      const gone = await node.reaper.waitNoChildren(waitMs);
      node.log.info(`  ${gone ? "all gone" : `some remain after ${waitMs} ms`}`);
    },
  };
}

function reaperReportTask(node: Node): Task {
  return {
    name: "reaper report",
    run: () => {
      const r = node.reaper.snapshot();
      node.log.info(`  reaper: ${r.orphans} orphans reaped, ${r.watched} supervised exits delivered, ${node.reaper.watching} still watched`);
    },
  };
}

export function unmountTask(node: Node): Task {
  return {
    name: "unmount all",
    run: () => {
      node.log.close(); // /dev/kmsg lives on /dev
      const r = unmountAll(["/proc"]);
      // /proc last: mountinfo is how we know what is left.
      const left = mountTable().filter((m) => m.target !== "/" && m.target !== "/proc");
      const procHow = unmountOne("/proc");
      node.log.info(`  unmounted ${r.unmounted.length + (procHow === "unmounted" ? 1 : 0)}, detached ${r.detached.length + (procHow === "detached" ? 1 : 0)}: ${[...r.unmounted, ...r.detached.map((d) => `${d} (detached)`), `/proc${procHow === "detached" ? " (detached)" : ""}`].join(" ")}`);
      if (r.failed.length) node.log.warn(`  failed: ${r.failed.join("; ")}`);
      node.log.info(left.length === 0 ? "  nothing mounted" : `  still mounted: ${left.map((m) => m.target).join(" ")}`);
    },
  };
}

function remountRootTask(node: Node): Task {
  return {
    name: "remount / read-only",
    run: () => {
      // The sandbox's / is a directory of the host's filesystem, not the node's to remount.
      if (node.sandbox) return skipped("sandbox: / belongs to the host");
      mount("", "/", null, MS.REMOUNT | MS.RDONLY);
    },
  };
}

function powerTask(node: Node, cmd: RebootCommand): Task {
  return {
    name: `reboot(${cmd})`,
    run: () => {
      node.log.info(`  reboot(${cmd})${node.sandbox ? ": the kernel ends this PID namespace's init" : ""}`);
      reboot(cmd);
    },
  };
}
