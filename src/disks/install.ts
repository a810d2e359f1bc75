// Install-to-disk, the disk half: refuse a disk that holds something unless
// told to wipe it, write Talos's layout as a GPT, have the kernel pick the new
// table up, and make the STATE and EPHEMERAL filesystems. The bootloader half
// (EFI, BIOS, BOOT, META contents) comes later and finds its partitions by label.
import { promises as fsp } from "node:fs";
import { basename } from "node:path";
import { FailedPreconditionError } from "../lib/errors.ts";
import { tryLockExclusive, unlock } from "../sys/blkdev.ts";
import { openDisk, zeroRange, type Disk } from "./device.ts";
import { encodeGpt, type GptTable } from "./gpt.ts";
import { layoutTable, MiB, planLayout, type Label, type LayoutOptions, type PlannedPartition } from "./layout.ts";
import { describeContents } from "./probe.ts";
import { syncKernelPartitions, waitForPartitions, type Reread } from "./kernel.ts";
import { formatXfs, MKFS_XFS, type Runner } from "./format.ts";

export interface WriteLayoutResult {
  table: GptTable;
  plan: PlannedPartition[];
  /** What the disk held before (empty for a blank disk). */
  replaced: string[];
}

/**
 * Writes the layout's GPT onto an open disk (block device or image file):
 * refuses a non-blank disk unless `wipe`, zeroes the first and last MiB of the
 * disk and the first MiB of every new partition (so no old signature survives
 * in a partition left unformatted), writes both tables and fsyncs.
 */
export async function writeLayout(disk: Disk, opts: { wipe: boolean; layout?: LayoutOptions }): Promise<WriteLayoutResult> {
  const replaced = await describeContents(disk);
  if (replaced.length && !opts.wipe) throw new FailedPreconditionError(`disk ${disk.path} is not empty: it holds ${replaced.join("; ")}; set wipe to erase it`);
  const plan = planLayout({ name: disk.path, size: disk.size, sectorSize: disk.sectorSize }, opts.layout);
  const table = layoutTable(plan, disk);
  await zeroRange(disk, 0, MiB);
  await zeroRange(disk, disk.size - MiB, MiB);
  for (const p of plan) await zeroRange(disk, p.firstLba * disk.sectorSize, Math.min(MiB, p.size));
  for (const w of encodeGpt(table)) await disk.write(w.offset, w.data);
  await disk.sync();
  return { table, plan, replaced };
}

export interface InstallOptions {
  /** The whole disk: "/dev/vdb" (a /dev/disk/by-* link works too). */
  disk: string;
  wipe: boolean;
  /** Spawns a process through init's reaper. */
  run: Runner;
  mkfs?: string;
  layout?: LayoutOptions;
  sysRoot?: string;
  devRoot?: string;
  /** How long to wait for the kernel's partition devices (default 10 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface InstalledPartition {
  index: number;
  label: Label;
  type: string;
  guid: string;
  device: string;
  offset: number;
  size: number;
  filesystem: "xfs" | "none";
}

export interface InstallResult {
  disk: string;
  diskGuid: string;
  replaced: string[];
  /** How the kernel learnt the new table. */
  reread: Reread;
  partitions: InstalledPartition[];
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** flock the whole disk so udevd leaves it alone; polls rather than blocking PID 1. */
async function lockDisk(disk: Disk, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!tryLockExclusive(disk.fd)) {
    if (Date.now() > until) throw new FailedPreconditionError(`disk ${disk.path} is locked by another process (flock)`);
    await sleep(20);
  }
}

/**
 * Partitions `opts.disk` with Talos's layout and formats STATE and EPHEMERAL
 * (XFS, labelled). Refuses a disk that is in use (a partition mounted) always,
 * and one that holds anything unless `wipe`, naming what is there.
 */
export async function install(opts: InstallOptions): Promise<InstallResult> {
  const t0 = performance.now();
  const real = await fsp.realpath(opts.disk);
  const name = basename(real);
  // O_EXCL on the whole disk fails while any of its partitions is mounted or claimed.
  try {
    await (await openDisk(real, { exclusive: true })).close();
  } catch (e) {
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === "EBUSY")
      throw new FailedPreconditionError(`disk ${opts.disk} is in use (a partition is mounted or held open exclusively)`);
    throw e;
  }
  const disk = await openDisk(real, { write: true });
  try {
    if (!disk.isBlockDevice) throw new FailedPreconditionError(`${opts.disk} is not a block device`);
    await lockDisk(disk, opts.timeoutMs ?? 10_000);
    const { table, plan, replaced } = await writeLayout(disk, { wipe: opts.wipe, layout: opts.layout });
    if (replaced.length) opts.log?.(`${opts.disk}: wiped ${replaced.join("; ")}`);
    opts.log?.(`${opts.disk}: wrote GPT ${table.diskGuid} with ${plan.map((p) => p.label).join(", ")}`);
    const how = await syncKernelPartitions(disk, name, plan, opts);
    const devices = await waitForPartitions(name, plan, opts);
    for (const p of plan) {
      if (p.filesystem !== "xfs") continue;
      const dev = devices.get(p.index)!;
      const t = performance.now();
      await formatXfs(dev, p.label, p.size, opts.run, opts.mkfs ?? MKFS_XFS);
      opts.log?.(`${dev}: formatted XFS "${p.label}" in ${Math.round(performance.now() - t)} ms`);
    }
    return {
      disk: opts.disk,
      diskGuid: table.diskGuid,
      replaced,
      reread: how,
      partitions: plan.map((p) => {
        const entry = table.partitions.find((e) => e.index === p.index)!;
        return {
          index: p.index,
          label: p.label,
          type: p.type,
          guid: entry.guid,
          device: devices.get(p.index)!,
          offset: p.firstLba * disk.sectorSize,
          size: p.size,
          filesystem: p.filesystem,
        };
      }),
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    try {
      unlock(disk.fd);
    } catch {
      // not locked (an early failure)
    }
    await disk.close();
  }
}
