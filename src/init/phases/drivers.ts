// Boot phase "drivers", right after /dev and kmsg: load the drivers of the
// devices the kernel already found (their modaliases, as udevd's coldplug
// would), before udevd runs. The system disk's controller and disk drivers
// must be there before the state partition is looked for, and the power
// button's before anyone presses it; on the Debian kernel all of them are
// modules. Each pass can reveal devices of its own (virtio_pci makes the
// virtio devices, button makes an input device), so passes repeat until none
// adds a modalias. udevd's coldplug later does the rest (and its rules).
import { existsSync, readFileSync } from "node:fs";
import type { NodeContext } from "../context.ts";
import { deviceModaliases } from "../mechanisms/modalias.ts";
import { loadedModules as parseModules } from "../mechanisms/udev.ts";
import type { PowerButtonWatch } from "../mechanisms/power-watch.ts";
import { runCaptured } from "../mechanisms/run.ts";
import { loadModulesDirectly } from "../mechanisms/kmod.ts";
import { errText } from "../mechanisms/log.ts";
import { SequenceAborted, skipped, type Task } from "../sequences/sequencer.ts";
import { powerButtonTask } from "./power-button.ts";

const MODPROBE = "/sbin/modprobe";
/**
 * The ACPI power button's driver and the input layer's character devices,
 * loaded before everything else: the kernel drops a press made before a
 * handler is installed (ACPICA clears the event when the handler is
 * installed), and the full pass takes seconds under TCG. They are loaded with
 * finit_module(2) from init itself (no modprobe process to start).
 */
export const POWER_BUTTON_MODULES = ["button", "evdev"];
const MAX_PASSES = 4;
const PASS_TIMEOUT_MS = 30_000;

export function driverTasks(ctx: NodeContext, watch: PowerButtonWatch): Task[] {
  return [
    powerButtonTask(ctx, watch, "at start"),
    {
      name: "load the power button's drivers",
      run: async (signal) => {
        if (ctx.sandbox) return skipped("sandbox: the devices and modules are the host's");
        try {
          // finit_module from init itself: spawning modprobe takes up to seconds under TCG on a busy host.
          const loaded = loadModulesDirectly(POWER_BUTTON_MODULES);
          ctx.log.info(`  loaded ${loaded.join(" ") || "nothing new"} (finit_module)`);
        } catch (e) {
          if (!existsSync(MODPROBE)) return skipped(`${errText(e)}; ${MODPROBE} is not in the rootfs`);
          ctx.log.info(`  ${errText(e)}: modprobe instead`);
          const r = await runCaptured(ctx.reaper, [MODPROBE, "-a", "-q", ...POWER_BUTTON_MODULES], { timeoutMs: PASS_TIMEOUT_MS, signal });
          if (signal.aborted) throw new SequenceAborted("driver load cut: the boot was taken over");
          if (r.code !== 0) ctx.log.warn(`  modprobe ${POWER_BUTTON_MODULES.join(" ")}: exit ${r.code}: ${r.output.trim()}`);
        }
        const buttons = watch.scan();
        if (buttons.length === 0) return skipped("no input device reports KEY_POWER (yet)");
        ctx.log.info(`  watching ${buttons.join(", ")} (power button)`);
      },
    },
    {
      name: "load drivers of present devices",
      run: async (signal) => {
        if (ctx.sandbox) return skipped("sandbox: the devices and modules are the host's");
        if (!existsSync(MODPROBE)) return skipped(`${MODPROBE} is not in the rootfs`);
        const seen = new Set<string>();
        const before = loadedModules();
        for (let pass = 1; pass <= MAX_PASSES; pass++) {
          const fresh = [...deviceModaliases()].filter((a) => !seen.has(a));
          if (fresh.length === 0) break;
          for (const a of fresh) seen.add(a);
          // -a: every argument is a module or alias; -q: an alias no module claims is not an error; -b: honour blacklists.
          const r = await runCaptured(ctx.reaper, [MODPROBE, "-a", "-q", "-b", ...fresh], { timeoutMs: PASS_TIMEOUT_MS, signal });
          if (signal.aborted) throw new SequenceAborted("driver load cut: the boot was taken over");
          if (r.code !== 0 && r.output.trim()) ctx.log.warn(`  modprobe pass ${pass}: exit ${r.code}: ${r.output.trim().split("\n").slice(-2).join(" | ")}`);
          const buttons = watch.scan();
          if (buttons.length) ctx.log.info(`  watching ${buttons.join(", ")} (power button)`);
        }
        const loaded = [...loadedModules()].filter((m) => !before.has(m));
        ctx.log.info(`  ${seen.size} modaliases; modules loaded: ${loaded.join(" ") || "none"}`);
      },
    },
  ];
}

function loadedModules(): Set<string> {
  try {
    return parseModules(readFileSync("/proc/modules", "utf8"));
  } catch {
    return new Set();
  }
}
