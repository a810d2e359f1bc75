// Install-to-disk, the disk half: refuse a disk that holds something unless
// told to wipe it, write Talos's layout as a GPT, have the kernel pick the new
// table up, and make the STATE and EPHEMERAL filesystems. The bootloader half
// (EFI, BIOS, BOOT, META contents) comes later and finds its partitions by label.
import { promises as fsp } from "node:fs";
import { basename, join } from "node:path";
import { FailedPreconditionError } from "../lib/errors.ts";
import { SysError } from "../sys/errno.ts";
import { addPartition, deletePartition, rereadPartitionTable, tryLockExclusive, unlock } from "../sys/blkdev.ts";
import { openDisk, zeroRange, type Disk } from "./device.ts";
import { encodeGpt, type GptTable } from "./gpt.ts";
import { layoutTable, MiB, planLayout, type Label, type LayoutOptions, type PlannedPartition } from "./layout.ts";
import { describeContents } from "./probe.ts";
import { kernelPartitions, partitionName } from "./discover.ts";
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
  if (replaced.length && !opts.wipe)
    throw new FailedPreconditionError(`disk ${disk.path} is not empty: it holds ${replaced.join("; ")}; set wipe to erase it`);
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

/** A partition as the kernel has it: /sys/block/<disk>/<part>/{start,size}, in 512-byte units. */
async function kernelGeometry(disk: string, part: string, sysRoot: string): Promise<{ start: number; size: number }> {
  const read = async (f: string) => Number((await fsp.readFile(join(sysRoot, "block", disk, part, f), "utf8")).trim()) * 512;
  return { start: await read("start"), size: await read("size") };
}

export type Reread = "BLKRRPART" | "BLKPG";

/**
 * Makes the kernel's partitions of `disk` those of `plan`. BLKRRPART first (the
 * kernel parses the table itself); then every partition is checked against
 * sysfs, and what is missing or different is fixed one by one with BLKPG.
 * That covers a table the kernel refuses to re-read while a partition is open
 * (EBUSY), and a kernel built without CONFIG_EFI_PARTITION, which parses no
 * GPT at all (the test host's is one) — such a kernel needs this at every boot.
 */
export async function syncKernelPartitions(
  disk: Disk,
  name: string,
  plan: readonly { index: number; firstLba: number; size: number }[],
  opts: { sysRoot?: string; log?: (line: string) => void } = {},
): Promise<Reread> {
  const sysRoot = opts.sysRoot ?? "/sys";
  let busy = false;
  try {
    rereadPartitionTable(disk.fd);
  } catch (e) {
    if (!(e instanceof SysError) || e.code !== "EBUSY") throw e;
    busy = true;
  }
  const want = new Map(plan.map((p) => [p.index, { start: p.firstLba * disk.sectorSize, size: p.size }]));
  const have = await kernelPartitions(name, opts);
  const wrong: number[] = [];
  for (const [pno, part] of have) {
    const w = want.get(pno);
    const g = await kernelGeometry(name, part, sysRoot);
    if (!w || w.start !== g.start || w.size !== g.size) wrong.push(pno);
  }
  const missing = [...want.keys()].filter((pno) => !have.has(pno) || wrong.includes(pno));
  if (!wrong.length && !missing.length) return "BLKRRPART";
  opts.log?.(
    `${disk.path}: ${busy ? "BLKRRPART refused (EBUSY)" : "the kernel did not pick up the GPT (no CONFIG_EFI_PARTITION?)"}; ` +
      `setting partitions ${missing.join(", ")} with BLKPG`,
  );
  for (const pno of wrong) {
    try {
      deletePartition(disk.fd, pno);
    } catch (e) {
      if (e instanceof SysError && e.code === "EBUSY") throw new FailedPreconditionError(`disk ${disk.path}: partition ${pno} is in use; cannot replace the partition table`);
      throw e;
    }
  }
  for (const pno of missing) {
    const w = want.get(pno)!;
    addPartition(disk.fd, pno, w.start, w.size);
  }
  return "BLKPG";
}

/** Waits until the kernel lists every planned partition and its device node exists; returns index → /dev path. */
async function waitForPartitions(name: string, plan: readonly PlannedPartition[], opts: InstallOptions): Promise<Map<number, string>> {
  const devRoot = opts.devRoot ?? "/dev";
  const until = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const known = await kernelPartitions(name, opts);
    const paths = new Map<number, string>();
    for (const p of plan) {
      const part = known.get(p.index);
      if (!part) break;
      try {
        if ((await fsp.stat(join(devRoot, part))).isBlockDevice()) paths.set(p.index, join(devRoot, part));
      } catch {
        break;
      }
    }
    if (paths.size === plan.length) return paths;
    if (Date.now() > until) {
      const missing = plan.filter((p) => !paths.has(p.index)).map((p) => `${p.label} (${partitionName(name, p.index)})`);
      throw new Error(`disk /dev/${name}: the kernel did not create partition devices ${missing.join(", ")} within ${opts.timeoutMs ?? 10_000} ms`);
    }
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
