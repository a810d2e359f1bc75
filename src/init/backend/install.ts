// ApplyConfiguration's install step: a config that names an install disk on a
// node whose state is still in RAM gets the disk partitioned and formatted
// and STATE mounted at /system/state, before the config is stored (there, on
// the disk). Validation failures (no such disk, too small, foreign partitions
// without wipe) throw before anything is written and leave the node as it was.
import type { ApplyMode } from "../../node/config.ts";
import { wantsInstall } from "../config/install.ts";
import type { MachineConfig } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";
import { reaperRunner } from "../mechanisms/run.ts";
import { installSystemDisk } from "../mechanisms/system-disk.ts";

/**
 * Installs when `next` asks for it and the node has no system disk yet;
 * returns what happened in words (undefined: nothing to do). `mountEphemeral`:
 * mount EPHEMERAL at /var now (maintenance mode, before any service uses /var).
 */
export async function installForApply(ctx: NodeContext, next: MachineConfig, mode: ApplyMode, mountEphemeral: boolean): Promise<string | undefined> {
  const cfg = next.machine.install;
  if (!wantsInstall(cfg)) return undefined;
  if (ctx.storage.mode === "disk") return `already installed on ${ctx.storage.disk}`;
  if (ctx.sandbox) return "sandbox: machine.install ignored (the disks are the host's)";
  if (mode === "try") return "try mode: machine.install is not acted on";
  const log = (l: string) => ctx.log.info(`install: ${l}`);
  const { result, status } = await installSystemDisk(cfg, { run: reaperRunner(ctx.reaper), log, mountEphemeral });
  ctx.storage = status;
  ctx.log.info(`install: ${result.disk} partitioned and formatted in ${result.ms} ms (${result.partitions.map((p) => `${p.label} ${p.device}`).join(", ")})`);
  ctx.events.emit({ kind: "config", message: `installed to ${result.disk}` });
  return `installed to ${result.disk} in ${result.ms} ms`;
}
