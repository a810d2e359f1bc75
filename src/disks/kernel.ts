// The kernel's view of a disk's partitions, made to agree with its GPT: what
// sysfs lists, BLKRRPART, and BLKPG for whatever the kernel did not pick up.
import { promises as fsp } from "node:fs";
import { basename, join } from "node:path";
import { FailedPreconditionError } from "../lib/errors.ts";
import { SysError } from "../sys/errno.ts";
import { addPartition, deletePartition, rereadPartitionTable } from "../sys/blkdev.ts";
import { openDisk, type Disk } from "./device.ts";
import { readGpt } from "./gpt.ts";
import { kernelPartitions, partitionName } from "./discover.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
      if (e instanceof SysError && e.code === "EBUSY")
        throw new FailedPreconditionError(`disk ${disk.path}: partition ${pno} is in use; cannot replace the partition table`);
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
export async function waitForPartitions(
  name: string,
  plan: readonly { index: number; label?: string }[],
  opts: { sysRoot?: string; devRoot?: string; timeoutMs?: number } = {},
): Promise<Map<number, string>> {
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
      const missing = plan.filter((p) => !paths.has(p.index)).map((p) => `${p.label ?? p.index} (${partitionName(name, p.index)})`);
      throw new Error(`disk /dev/${name}: the kernel did not create partition devices ${missing.join(", ")} within ${opts.timeoutMs ?? 10_000} ms`);
    }
    await sleep(20);
  }
}

/**
 * At boot: make sure the kernel has a device for every partition in the GPT
 * of `disk` ("/dev/vda"), e.g. on a kernel without CONFIG_EFI_PARTITION.
 * Returns "unchanged" when sysfs already matches the table (nothing is
 * re-read then), else how it was fixed. Throws when the disk has no valid GPT.
 */
export async function ensurePartitionDevices(
  disk: string,
  opts: { sysRoot?: string; devRoot?: string; timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<"unchanged" | Reread> {
  const real = await fsp.realpath(disk);
  const name = basename(real);
  const d = await openDisk(real);
  try {
    const gpt = await readGpt(d);
    if (!gpt.valid) throw new Error(`disk ${disk}: ${gpt.reason}`);
    const ss = gpt.table.sectorSize;
    const plan = gpt.table.partitions.map((p) => ({ index: p.index, firstLba: p.firstLba, size: (p.lastLba - p.firstLba + 1) * ss, label: p.name }));
    if (await matches(d, name, plan, opts.sysRoot ?? "/sys")) return "unchanged";
    const how = await syncKernelPartitions(d, name, plan, opts);
    await waitForPartitions(name, plan, opts);
    return how;
  } finally {
    await d.close();
  }
}

async function matches(disk: Disk, name: string, plan: readonly { index: number; firstLba: number; size: number }[], sysRoot: string): Promise<boolean> {
  const have = await kernelPartitions(name, { sysRoot });
  if (have.size !== plan.length) return false;
  for (const p of plan) {
    const part = have.get(p.index);
    if (!part) return false;
    const g = await kernelGeometry(name, part, sysRoot);
    if (g.start !== p.firstLba * disk.sectorSize || g.size !== p.size) return false;
  }
  return true;
}
