// Boot phase "udev": once udevd runs, replay the "add" uevents of the devices
// the kernel found before it (coldplug), and wait for udevd to work through
// them: that is what loads the NIC, power button and input drivers. The
// coldplug mechanism loads only on a kernel boot.
import { readFileSync } from "node:fs";
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** udevd's own start (exec to control socket) takes well under a second; TCG is slow. */
const UDEVD_WAIT_MS = 30_000;
export const SETTLE_TIMEOUT_MS = 10_000;
/** The queue must stay empty this long: a loaded driver's new devices queue events of their own. */
const SETTLE_QUIET_MS = 250;

export function udevTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "coldplug",
      run: async (signal) => {
        // Writing a uevent file in the sandbox would replay the *host's* devices to the host's udev.
        if (ctx.sandbox) return skipped("sandbox: the devices and their uevents are the host's");
        const { coldplugTargets, loadedModules, settle, trigger } = await import("../mechanisms/udev.ts");
        const why = await udevdUp(ctx, signal);
        if (why) return skipped(why);
        const modules = () => moduleSet(loadedModules);
        const before = modules();
        const t0 = performance.now();
        const { subsystems, devices } = coldplugTargets();
        const s = trigger(subsystems);
        const d = trigger(devices);
        const settled = await settle({ timeoutMs: SETTLE_TIMEOUT_MS, quietMs: SETTLE_QUIET_MS, signal });
        const ms = Math.round(performance.now() - t0);
        const loaded = [...modules()].filter((m) => !before.has(m));
        ctx.log.info(
          `  triggered ${s.written} subsystems, ${d.written} devices (${s.refused + d.refused} refused); queue ${settled ? "settled" : `not settled after ${SETTLE_TIMEOUT_MS / 1000} s`} in ${ms} ms`,
        );
        ctx.log.info(`  modules loaded: ${loaded.join(" ") || "none"}`);
      },
    },
  ];
}

function moduleSet(loadedModules: (procModules: string) => Set<string>): Set<string> {
  try {
    return loadedModules(readFileSync("/proc/modules", "utf8"));
  } catch {
    return new Set();
  }
}

/** Resolves undefined once udevd is up (running, control socket there), else with why the coldplug is skipped. */
function udevdUp(ctx: NodeContext, signal: AbortSignal): Promise<string | undefined> {
  const svc = ctx.services.peek()?.find("udevd");
  if (!svc) return Promise.resolve("no udevd service");
  return new Promise((resolve) => {
    const finish = (why: string | undefined) => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
      resolve(why);
    };
    const check = () => {
      if (svc.up) finish(undefined);
      else if (svc.state === "Skipped" || svc.state === "Failed") finish(`udevd is ${svc.state}`);
    };
    const onAbort = () => finish("the boot was aborted");
    const timer = setTimeout(() => finish(`udevd not up after ${UDEVD_WAIT_MS / 1000} s (${svc.state})`), UDEVD_WAIT_MS);
    const unsubscribe = ctx.events.subscribe((e) => {
      if (e.kind === "service" && e.service === "udevd") check();
    });
    signal.addEventListener("abort", onAbort, { once: true });
    check();
  });
}
