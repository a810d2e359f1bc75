// Block devices as sysfs describes them (/sys/block/*), with the properties
// Talos's disk selector matches on, and their GPT partitions found by label.
// Both roots are parameters so tests run against a fake tree in a tmp dir.
import { promises as fsp } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { readGpt, type GptReadResult } from "./gpt.ts";
import { openDisk } from "./device.ts";

export interface DiscoverOptions {
  /** Default "/sys". */
  sysRoot?: string;
  /** Default "/dev". */
  devRoot?: string;
  /** Also list virtual devices (loop, ram, zram, dm-, md, nbd…: anything under /sys/devices/virtual). */
  includeVirtual?: boolean;
}

export type DiskType = "ssd" | "hdd" | "nvme" | "sd";

export interface BlockDisk {
  /** Kernel name: "vda", "nvme0n1". */
  name: string;
  /** "/dev/vda" (under devRoot). */
  devPath: string;
  /** Bytes (sysfs `size` is in 512-byte units whatever the sector size). */
  size: number;
  /** queue/logical_block_size, default 512. */
  sectorSize: number;
  /** device/name: the hardware name some buses give (mmc); "" otherwise. */
  hardwareName: string;
  model: string;
  vendor: string;
  serial: string;
  wwid: string;
  uuid: string;
  modalias: string;
  rotational: boolean;
  removable: boolean;
  readonly: boolean;
  cdrom: boolean;
  virtual: boolean;
  /** nvme, virtio, mmc, sata, ata, usb, sas, fc, iscsi, or "" when unknown (as Talos reports). */
  transport: string;
  /** What the selector's `type` means for this disk. */
  type: DiskType;
  /** Talos's busPath: the sysfs device path below /devices without its last two elements. */
  busPath: string;
}

async function readText(path: string): Promise<string> {
  try {
    return (await fsp.readFile(path, "utf8")).trim();
  } catch {
    return "";
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The sysfs link target of /sys/block/<name>, as an absolute path inside sysRoot. */
async function devicePath(sysRoot: string, name: string): Promise<string> {
  const link = join(sysRoot, "block", name);
  try {
    return resolve(join(sysRoot, "block"), await fsp.readlink(link));
  } catch {
    return link;
  }
}

/** Talos's transport rules: by name first, then by the SCSI host behind the device. */
async function transportOf(sysRoot: string, name: string, sysPath: string): Promise<string> {
  if (name.startsWith("nvme")) return "nvme";
  if (name.startsWith("vd")) return "virtio";
  if (name.startsWith("mmcblk")) return "mmc";
  let target: string;
  try {
    target = basename(await fsp.readlink(join(sysPath, "device")));
  } catch {
    return "";
  }
  const colon = target.indexOf(":");
  if (colon <= 0) return "";
  const host = Number(target.slice(0, colon));
  if (!Number.isInteger(host)) return "";
  const isHost = (kind: string) => exists(join(sysRoot, "class", `${kind}_host`, `host${host}`));
  if (await isHost("sas")) return "sas";
  if (await isHost("fc")) return "fc";
  if (await exists(join(sysRoot, "bus", "scsi", "devices", target, "ieee1394_id"))) return "ibp";
  if (await isHost("iscsi")) return "iscsi";
  try {
    if ((await fsp.readlink(join(sysRoot, "bus", "scsi", "devices", target))).includes("usb")) return "usb";
  } catch {
    // not on the SCSI bus list
  }
  if (await isHost("scsi")) {
    const proc = await readText(join(sysRoot, "class", "scsi_host", `host${host}`, "proc_name"));
    if (proc === "ahci" || proc === "sata") return "sata";
    if (proc.includes("ata")) return "ata";
    if (proc === "virtio_scsi") return "virtio";
  }
  return "";
}

/** One disk's properties; undefined when /sys/block/<name> does not exist. */
export async function describeDisk(name: string, opts: DiscoverOptions = {}): Promise<BlockDisk | undefined> {
  const sysRoot = opts.sysRoot ?? "/sys";
  const devRoot = opts.devRoot ?? "/dev";
  const sysPath = join(sysRoot, "block", name);
  if (!(await exists(sysPath))) return undefined;
  const read = (rel: string) => readText(join(sysPath, rel));
  const full = await devicePath(sysRoot, name);
  const devicesRoot = join(sysRoot, "devices");
  const below = full.startsWith(devicesRoot + "/") ? full.slice(devicesRoot.length) : "";
  // As Talos: the device path below /devices minus its last two elements
  // (".../virtio2/block/vda" → ".../virtio2"; ".../nvme/nvme0/nvme0n1" → ".../nvme").
  const busPath = below ? dirname(dirname(below)) : "";
  const rotational = (await read("queue/rotational")) === "1";
  const transport = await transportOf(sysRoot, name, sysPath);
  const scsiType = await read("device/type");
  const serial = (await read("device/serial")) || (await read("serial"));
  return {
    name,
    devPath: join(devRoot, name),
    size: Number(await read("size")) * 512 || 0,
    sectorSize: Number(await read("queue/logical_block_size")) || 512,
    hardwareName: await read("device/name"),
    model: await read("device/model"),
    vendor: await read("device/vendor"),
    serial,
    wwid: (await read("wwid")) || (await read("device/wwid")),
    uuid: await read("uuid"),
    modalias: await read("device/modalias"),
    rotational,
    removable: (await read("removable")) === "1",
    readonly: (await read("ro")) === "1",
    cdrom: name.startsWith("sr") || scsiType === "5",
    virtual: below.startsWith("/virtual/"),
    transport,
    type: transport === "nvme" ? "nvme" : transport === "mmc" ? "sd" : rotational ? "hdd" : "ssd",
    busPath,
  };
}

/** Every whole disk in /sys/block, sorted by name; virtual ones and empty ones (size 0) only when asked. */
export async function discoverDisks(opts: DiscoverOptions = {}): Promise<BlockDisk[]> {
  const names = (await fsp.readdir(join(opts.sysRoot ?? "/sys", "block"))).sort();
  const out: BlockDisk[] = [];
  for (const name of names) {
    const d = await describeDisk(name, opts);
    if (!d) continue;
    if (d.virtual && !opts.includeVirtual) continue;
    if (d.size === 0 && !opts.includeVirtual) continue;
    out.push(d);
  }
  return out;
}

/** Kernel name of partition `index` of disk `name`: vda1, nvme0n1p1, loop0p1, mmcblk0p1. */
export function partitionName(disk: string, index: number): string {
  return /[0-9]$/.test(disk) ? `${disk}p${index}` : `${disk}${index}`;
}

/** Partition number → kernel name, from /sys/block/<disk>/<part>/partition (what the kernel really made). */
export async function kernelPartitions(disk: string, opts: DiscoverOptions = {}): Promise<Map<number, string>> {
  const dir = join(opts.sysRoot ?? "/sys", "block", disk);
  const out = new Map<number, string>();
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const n = Number(await readText(join(dir, e, "partition")));
    if (Number.isInteger(n) && n > 0) out.set(n, e);
  }
  return out;
}

export interface DiskPartition {
  disk: string;
  index: number;
  /** Kernel name ("vda5"), from sysfs when the kernel has the partition, else by the naming rule. */
  name: string;
  devPath: string;
  /** Whether the kernel currently knows this partition (it is in sysfs). */
  inKernel: boolean;
  label: string;
  type: string;
  guid: string;
  /** Bytes. */
  offset: number;
  size: number;
}

/** The GPT of a disk (read through /dev/<disk>) and its partitions mapped to device names. */
export async function diskPartitions(disk: string, opts: DiscoverOptions = {}): Promise<{ gpt: GptReadResult; partitions: DiskPartition[] }> {
  const devRoot = opts.devRoot ?? "/dev";
  const d = await openDisk(join(devRoot, disk));
  let gpt: GptReadResult;
  try {
    gpt = await readGpt(d);
  } finally {
    await d.close();
  }
  if (!gpt.valid) return { gpt, partitions: [] };
  const known = await kernelPartitions(disk, opts);
  const ss = gpt.table.sectorSize;
  const partitions = gpt.table.partitions.map((p) => {
    const name = known.get(p.index) ?? partitionName(disk, p.index);
    return {
      disk,
      index: p.index,
      name,
      devPath: join(devRoot, name),
      inKernel: known.has(p.index),
      label: p.name,
      type: p.type,
      guid: p.guid,
      offset: p.firstLba * ss,
      size: (p.lastLba - p.firstLba + 1) * ss,
    };
  });
  return { gpt, partitions };
}

/**
 * The partition labelled `label` (e.g. "STATE"): on `disk` when given, else on
 * every discovered disk in name order. Disks that cannot be read are passed over.
 */
export async function findPartitionByLabel(label: string, opts: DiscoverOptions & { disk?: string } = {}): Promise<DiskPartition | undefined> {
  const names = opts.disk ? [opts.disk] : (await discoverDisks(opts)).map((d) => d.name);
  for (const name of names) {
    let found: DiskPartition | undefined;
    try {
      found = (await diskPartitions(name, opts)).partitions.find((p) => p.label === label);
    } catch {
      continue;
    }
    if (found) return found;
  }
  return undefined;
}
