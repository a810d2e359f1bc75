// The system disk in the machine API: ApplyConfiguration's install step,
// Reset, and the disk listing. The install step: a config that names an install disk on a
// node whose state is still in RAM gets the disk partitioned and formatted
// and STATE mounted at /system/state, before the config is stored (there, on
// the disk). Validation failures (no such disk, too small, foreign partitions
// without wipe) throw before anything is written and leave the node as it was.
import type { ApplyMode } from "../../node/config.ts";
import type { DiskInfo, DiskKind, ResetOptions } from "../../node/storage.ts";
import { discoverDisks, type BlockDisk } from "../../disks/index.ts";
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

/**
 * Reset: note what to wipe, then the power sequence (graceful: a control plane
 * leaves etcd first, as Talos's `etcd leave`; services stopped in order, API
 * closed); the teardown wipes once everything is unmounted, then reboots or
 * powers off. Refused (FailedPreconditionError) like a power action
 * while another sequence ends the node.
 */
export function resetNode(ctx: NodeContext, opts: ResetOptions): void {
  const action = opts.reboot ? "reboot" : "poweroff";
  ctx.sequencer.assertCanRun(action === "reboot" ? "reboot" : "shutdown");
  ctx.pendingWipe = [...opts.labels];
  ctx.resetLeavesEtcd = opts.graceful;
  ctx.log.info(
    `reset requested: ${opts.graceful ? "leave etcd (on a control plane), " : ""}wipe ${opts.labels.join(", ") || "nothing"}, then ${action}${opts.graceful ? "" : " (not graceful: the etcd membership is not given up; services are stopped in order all the same)"}`,
  );
  ctx.power.request(action, "reset");
}

const KIND: Record<BlockDisk["type"], DiskKind> = { ssd: "SSD", hdd: "HDD", nvme: "NVME", sd: "SD" };

/** The node's disks as storage.StorageService/Disks lists them. */
export async function listDisks(ctx: NodeContext): Promise<DiskInfo[]> {
  const disks = await discoverDisks();
  return disks.map((d) => ({
    size: d.size,
    model: d.model,
    deviceName: d.name,
    name: d.hardwareName,
    serial: d.serial,
    modalias: d.modalias,
    uuid: d.uuid,
    wwid: d.wwid,
    type: d.cdrom ? "CD" : (KIND[d.type] ?? "UNKNOWN"),
    busPath: d.busPath,
    systemDisk: ctx.storage.disk === d.devPath,
    subsystem: d.transport ? `/sys/class/block` : "",
    readonly: d.readonly,
  }));
}
