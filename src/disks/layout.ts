// Talos's system disk layout, by partition label, in order:
//
//   EFI        100 MiB   EFI System            (the bootloader install formats it vfat)
//   BIOS         1 MiB   BIOS boot, legacy-BIOS-bootable attribute (GRUB's core image)
//   BOOT      1000 MiB   Linux filesystem      (kernels and initramfs)
//   META         1 MiB   Linux filesystem      (Talos's key/value META area)
//   STATE      100 MiB   Linux filesystem, XFS (the machine config: /system/state)
//   EPHEMERAL  the rest  Linux filesystem, XFS (/var), at least 2 GiB
//
// The first four are CREATED now, empty and unformatted, rather than left as a
// gap: a later bootloader install then only formats partitions it finds by
// label and never rewrites the table of a disk whose STATE and EPHEMERAL are
// mounted (the kernel cannot re-read a table while partitions are in use).
// BOOT is 1000 MiB as in Talos before 1.11; Talos 1.11+ uses 2000 MiB, which
// `bootSize` selects. Every partition starts and ends on a 1 MiB boundary.
import { formatBytes } from "./units.ts";
import { gptGeometry, type GptTable } from "./gpt.ts";
import { randomGuid } from "./guid.ts";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
const ALIGN = MiB;

export const TYPE_EFI_SYSTEM = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const TYPE_BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
export const TYPE_LINUX_DATA = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
/** GPT attribute bit 2: legacy BIOS bootable (Talos sets it on BIOS). */
export const ATTR_LEGACY_BIOS_BOOTABLE = 1n << 2n;

export type Label = "EFI" | "BIOS" | "BOOT" | "META" | "STATE" | "EPHEMERAL";
export const LABELS: readonly Label[] = ["EFI", "BIOS", "BOOT", "META", "STATE", "EPHEMERAL"];

export interface LayoutOptions {
  /** BOOT's size; default 1000 MiB (Talos < 1.11). */
  bootSize?: number;
  /** EPHEMERAL's minimum; default 2 GiB (Talos's EphemeralMinSize). */
  ephemeralMinSize?: number;
}

export interface PlannedPartition {
  index: number;
  label: Label;
  type: string;
  attributes: bigint;
  firstLba: number;
  lastLba: number;
  /** Bytes. */
  size: number;
  /** What install puts on it now: XFS for STATE and EPHEMERAL, nothing for the rest. */
  filesystem: "xfs" | "none";
}

interface Spec {
  label: Label;
  type: string;
  size: number; // 0: the rest
  attributes?: bigint;
  filesystem: "xfs" | "none";
}

function specs(opts: LayoutOptions): Spec[] {
  return [
    { label: "EFI", type: TYPE_EFI_SYSTEM, size: 100 * MiB, filesystem: "none" },
    { label: "BIOS", type: TYPE_BIOS_BOOT, size: 1 * MiB, attributes: ATTR_LEGACY_BIOS_BOOTABLE, filesystem: "none" },
    { label: "BOOT", type: TYPE_LINUX_DATA, size: opts.bootSize ?? 1000 * MiB, filesystem: "none" },
    { label: "META", type: TYPE_LINUX_DATA, size: 1 * MiB, filesystem: "none" },
    { label: "STATE", type: TYPE_LINUX_DATA, size: 100 * MiB, filesystem: "xfs" },
    { label: "EPHEMERAL", type: TYPE_LINUX_DATA, size: 0, filesystem: "xfs" },
  ];
}

/** Thrown when the disk cannot hold the layout; the message names both sizes. */
export class DiskTooSmallError extends Error {
  override name = "DiskTooSmallError";
  constructor(
    readonly disk: string,
    readonly size: number,
    readonly needed: number,
    detail: string,
  ) {
    super(`disk ${disk} is ${formatBytes(size)}; the install needs at least ${formatBytes(needed)} (${detail})`);
  }
}

function fixedBytes(opts: LayoutOptions): number {
  return specs(opts).reduce((sum, s) => sum + s.size, 0);
}

/** The smallest disk (bytes) the layout fits on, with EPHEMERAL at its minimum. */
export function minimumDiskSize(sectorSize: number, opts: LayoutOptions = {}): number {
  const align = ALIGN / sectorSize;
  const { entrySectors } = gptGeometry(0, sectorSize);
  // The first partition starts at 1 MiB; after EPHEMERAL come the backup entries and header.
  const sectors = align + (fixedBytes(opts) + (opts.ephemeralMinSize ?? 2 * GiB)) / sectorSize + entrySectors + 1;
  return sectors * sectorSize;
}

/** Talos's layout on a disk of `size` bytes; throws DiskTooSmallError when it does not fit. */
export function planLayout(disk: { name: string; size: number; sectorSize: number }, opts: LayoutOptions = {}): PlannedPartition[] {
  const ss = disk.sectorSize;
  if (ss !== 512 && ss !== 4096) throw new Error(`disk ${disk.name}: logical sector size ${ss} (only 512 and 4096 are supported)`);
  for (const [k, v] of Object.entries(opts))
    if (v !== undefined && (v <= 0 || v % ALIGN !== 0)) throw new Error(`${k} must be a positive multiple of 1 MiB, got ${v}`);
  const align = ALIGN / ss;
  const sectors = Math.floor(disk.size / ss);
  const geometry = gptGeometry(sectors, ss);
  const ephemeralMin = opts.ephemeralMinSize ?? 2 * GiB;
  const needed = minimumDiskSize(ss, opts);
  const detail = `${specs(opts)
    .map((s) => `${s.label} ${s.size ? formatBytes(s.size) : `≥ ${formatBytes(ephemeralMin)}`}`)
    .join(", ")}, 1 MiB before the first partition and the backup GPT`;
  if (disk.size < needed) throw new DiskTooSmallError(disk.name, disk.size, needed, detail);
  const out: PlannedPartition[] = [];
  let lba = align;
  // EPHEMERAL ends on the last 1 MiB boundary before the backup entry array.
  const end = Math.floor((geometry.lastUsableLba + 1) / align) * align;
  specs(opts).forEach((s, i) => {
    const sizeSectors = s.size ? s.size / ss : end - lba;
    out.push({
      index: i + 1,
      label: s.label,
      type: s.type,
      attributes: s.attributes ?? 0n,
      firstLba: lba,
      lastLba: lba + sizeSectors - 1,
      size: sizeSectors * ss,
      filesystem: s.filesystem,
    });
    lba += sizeSectors;
  });
  return out;
}

/** The GPT for a plan, with a fresh disk GUID and partition GUIDs. */
export function layoutTable(plan: readonly PlannedPartition[], disk: { size: number; sectorSize: number }): GptTable {
  const sectors = Math.floor(disk.size / disk.sectorSize);
  const g = gptGeometry(sectors, disk.sectorSize);
  return {
    sectorSize: disk.sectorSize,
    sectors,
    diskGuid: randomGuid(),
    firstUsableLba: g.firstUsableLba,
    lastUsableLba: g.lastUsableLba,
    partitions: plan.map((p) => ({
      index: p.index,
      type: p.type,
      guid: randomGuid(),
      firstLba: p.firstLba,
      lastLba: p.lastLba,
      attributes: p.attributes,
      name: p.label,
    })),
  };
}
