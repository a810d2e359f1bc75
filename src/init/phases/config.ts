// Boot phase "config": the kernel cmdline (once /proc is there), then the
// machine config — the cmdline's minos.config=, else the stored one, else the
// default — and a valid cmdline config becomes the stored one.
import { readFileSync } from "node:fs";
import { STORED_CONFIG } from "../../node/paths.ts";
import { loadConfigOffThread, writeAtomically } from "../config/store.ts";
import type { NodeContext } from "../context.ts";
import type { Task } from "../sequences/sequencer.ts";

export function configTasks(ctx: NodeContext): Task[] {
  return [
    {
      // Only now: the kernel's /proc/cmdline exists once the mounts phase mounted /proc.
      name: "read kernel cmdline",
      run: () => {
        const c = ctx.loadCmdline();
        ctx.log.info(`  ${ctx.sandbox ? "MINOS_CMDLINE (the sandbox's stand-in)" : "/proc/cmdline"}: ${c.raw || "(empty)"}`);
      },
    },
    {
      name: "load machine config",
      run: async () => {
        const given = ctx.cmdline.params.get("minos.config");
        // A URL is fetched later, once the network is up (phase "maintenance"), and only when no config is stored.
        const url = given !== undefined && /^https?:\/\//.test(given) ? given : undefined;
        const path = url ? undefined : given;
        // In the config worker, as an apply is: a big stored config neither stalls reaping nor, later, a reader's GetConfiguration.
        const loaded = await loadConfigOffThread(ctx.configValidator, path, undefined, (why) => ctx.log.warn(`  ${why}`));
        // One line per rejection, so the console and Dmesg show the reason beside the file.
        for (const r of loaded.rejected) {
          ctx.log.warn(`  rejected ${r.replace(/\n\s*/g, " ")}`);
          ctx.events.emit({ kind: "config-load-error", error: r });
        }
        ctx.config.set(loaded);
        ctx.log.info(`  using the ${loaded.source} config${loaded.source === "cmdline" ? ` (${path})` : ""}`);
        // Maintenance mode (phase "maintenance"): a kernel boot with nothing to go on waits for a config.
        if (ctx.storage.unusable) ctx.maintenance = `the system disk's state cannot be used: ${ctx.storage.unusable}`;
        else if (url && loaded.source === "default") {
          ctx.configUrl = url;
          ctx.maintenance = `no stored config; fetching minos.config=${url}`;
        } else if (url) ctx.log.info(`  minos.config=${url} not fetched: the ${loaded.source} config is used (as Talos, a stored config wins)`);
        else if (loaded.source === "default" && !ctx.sandbox) ctx.maintenance = "no machine config (none stored, none from minos.config=)";
        // A valid config from the cmdline becomes the stored one (never an invalid one: it was rejected above).
        if (loaded.source === "cmdline" && readOr(STORED_CONFIG) !== loaded.text) {
          writeAtomically(STORED_CONFIG, loaded.text);
          ctx.log.info(`  stored it as ${STORED_CONFIG}`);
        }
      },
    },
  ];
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
