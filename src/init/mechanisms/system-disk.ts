// The system disk: where the node keeps its state. Talos's layout (src/disks)
// puts the machine config on STATE (mounted at /system/state) and everything
// containerd and the kubelet keep on EPHEMERAL (mounted at /var). This file is
// init's side of it: find the partitions by label at boot, check and repair
// them with the rootfs's xfs_repair, mount them; and on the first config that
// names an install disk, check the disk, install the layout and mount it.
//
// A STATE counts only once it holds a config: the config is written there
// with the atomic store (fsync of file and directory), so a power cut during
// an install leaves a STATE without config.yaml, which the next boot treats as
// "not installed" (and a later install may redo, the disk being ours).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, promises as fsp, readFileSync, readSync, writeSync } from "node:fs";
import { basename } from "node:path";
import {
  describeDisk,
  discoverDisks,
  DiskTooSmallError,
  diskPartitions,
  ensurePartitionDevices,
  formatBytes,
  install,
  minimumDiskSize,
  repairXfs,
  selectDisk,
  type BlockDisk,
  type DiskPartition,
  type InstallResult,
  type RepairResult,
  type Runner,
} from "../../disks/index.ts";
import { InvalidArgumentError, NotFoundError } from "../../lib/errors.ts";
import { MS, mount, umount } from "../../sys/mount.ts";
import { STATE_DIR, STORED_CONFIG } from "../../node/paths.ts";
import type { InstallConfig } from "../config/install.ts";
import { mountTable } from "./mounts.ts";

export const EPHEMERAL_DIR = "/var";
/** Where a filesystem is mounted for a moment to replay its log. */
const REPLAY_DIR = "/system/.replay";
const XFS_FLAGS = MS.NOATIME;

/** Where the node's state lives now: what the console, the log and the API say. */
export interface StorageStatus {
  /** "disk": STATE and EPHEMERAL are mounted from `disk`; "ram": nothing persists across a reboot. */
  mode: "disk" | "ram";
  disk?: string;
  state?: string;
  ephemeral?: string;
  /** Why the node is in RAM, or what went wrong with the disk (a STATE that cannot be repaired). */
  why: string;
  /** The repairs (or checks) of this boot, in words. */
  repairs: string[];
  /** Set when STATE exists but cannot be used: the boot goes to maintenance mode and says this. */
  unusable?: string;
}

export function ramStatus(why: string): StorageStatus {
  return { mode: "ram", why, repairs: [] };
}

/** One line for the console: where /system/state and /var live. */
export function describeStorage(s: StorageStatus): string {
  if (s.mode === "disk") return `state on disk ${s.disk}: STATE ${s.state} at ${STATE_DIR}, EPHEMERAL ${s.ephemeral} at ${EPHEMERAL_DIR}`;
  return `state in RAM: ${STATE_DIR} and ${EPHEMERAL_DIR} are lost at reboot (${s.why})`;
}

export interface SystemPartitions {
  disk: BlockDisk;
  state?: DiskPartition;
  ephemeral?: DiskPartition;
}

/**
 * The first disk whose GPT has a STATE partition. The kernel's partition
 * devices are made to match each GPT first (a kernel without
 * CONFIG_EFI_PARTITION has none). Disks without a valid GPT are passed over.
 */
export async function findSystemPartitions(log: (line: string) => void): Promise<SystemPartitions | undefined> {
  for (const disk of await discoverDisks()) {
    try {
      const how = await ensurePartitionDevices(disk.devPath, { log });
      if (how !== "unchanged") log(`${disk.devPath}: partition devices set from its GPT (${how})`);
    } catch {
      continue; // no valid GPT: not a system disk
    }
    const { partitions } = await diskPartitions(disk.name);
    const state = partitions.find((p) => p.label === "STATE");
    if (!state) continue;
    return { disk, state, ephemeral: partitions.find((p) => p.label === "EPHEMERAL") };
  }
  return undefined;
}

export function isMountPoint(target: string): boolean {
  return mountTable().some((m) => m.target === target);
}

/** Checks (and repairs) an unmounted XFS partition; the log replay mounts it on REPLAY_DIR for a moment. */
export function checkXfs(dev: string, run: Runner): Promise<RepairResult> {
  return repairXfs(dev, run, {
    replayLog: async (d) => {
      mkdirSync(REPLAY_DIR, { recursive: true });
      mount(d, REPLAY_DIR, "xfs", XFS_FLAGS);
      umount(REPLAY_DIR);
    },
  });
}

/**
 * Loads the xfs module when the kernel has no xfs yet (the Debian kernel
 * builds it as a module; a mount of an unknown type is ENODEV, the kernel's
 * own request_module is not relied on).
 */
export async function ensureXfs(run: Runner): Promise<void> {
  if (/\sxfs$/m.test(readFileSync("/proc/filesystems", "utf8"))) return;
  const r = await run(["/sbin/modprobe", "xfs"]);
  if (r.code !== 0) throw new Error(`modprobe xfs: exit code ${r.code}: ${r.output.trim()}`);
}

export function mountXfs(dev: string, target: string): void {
  mkdirSync(target, { recursive: true });
  mount(dev, target, "xfs", XFS_FLAGS);
}

/**
 * At boot: find STATE and EPHEMERAL, repair, mount STATE at /system/state and
 * — when STATE holds a config — EPHEMERAL at /var. Never throws for a disk
 * problem: the answer says what happened (ram with a reason, or `unusable`).
 */
export async function mountSystemDisk(run: Runner, log: (line: string) => void): Promise<StorageStatus> {
  let found: SystemPartitions | undefined;
  try {
    found = await findSystemPartitions(log);
  } catch (e) {
    return ramStatus(`looking for the STATE partition failed: ${(e as Error).message}`);
  }
  if (!found?.state) return ramStatus("no disk has a STATE partition: not installed");
  const { disk, state, ephemeral } = found;
  // A Reset (or an install cut before mkfs) leaves STATE without a filesystem: not installed, not broken.
  if (!hasXfsSuperblock(state.devPath))
    return ramStatus(`STATE ${state.devPath} on ${disk.devPath} holds no filesystem (wiped by a reset, or an install cut short)`);
  const repairs: string[] = [];
  try {
    await ensureXfs(run);
  } catch (e) {
    return { ...ramStatus("no XFS in this kernel"), unusable: `STATE ${state.devPath}: ${(e as Error).message}` };
  }
  const st = await checkXfs(state.devPath, run);
  repairs.push(st.words);
  log(st.words);
  if (st.action === "failed")
    return { ...ramStatus(`STATE ${state.devPath} cannot be used`), repairs, unusable: `STATE ${state.devPath} on ${disk.devPath}: ${st.words}` };
  try {
    mountXfs(state.devPath, STATE_DIR);
  } catch (e) {
    return {
      ...ramStatus(`STATE ${state.devPath} cannot be mounted`),
      repairs,
      unusable: `STATE ${state.devPath} on ${disk.devPath}: mount failed: ${(e as Error).message}`,
    };
  }
  if (!existsSync(STORED_CONFIG)) {
    // An install cut short before its config was fsynced: not a STATE yet.
    umount(STATE_DIR);
    return { ...ramStatus(`STATE ${state.devPath} on ${disk.devPath} holds no config (an install that did not finish)`), repairs };
  }
  if (!ephemeral) return { mode: "disk", disk: disk.devPath, state: state.devPath, why: "installed; no EPHEMERAL partition: /var in RAM", repairs };
  const ep = await checkXfs(ephemeral.devPath, run);
  repairs.push(ep.words);
  log(ep.words);
  if (ep.action === "failed") return { mode: "disk", disk: disk.devPath, state: state.devPath, why: `EPHEMERAL unusable, /var in RAM: ${ep.words}`, repairs };
  mountXfs(ephemeral.devPath, EPHEMERAL_DIR);
  return { mode: "disk", disk: disk.devPath, state: state.devPath, ephemeral: ephemeral.devPath, why: "installed", repairs };
}

/**
 * The install disk the config names: machine.install.disk, else the first
 * disk diskSelector matches. InvalidArgumentError naming the path and the
 * reason when there is none or it is too small.
 */
export async function resolveInstallDisk(cfg: InstallConfig): Promise<BlockDisk> {
  let disk: BlockDisk | undefined;
  if (cfg.disk !== undefined) {
    let real: string;
    try {
      real = await fsp.realpath(cfg.disk);
    } catch {
      throw new InvalidArgumentError(`machine.install.disk: ${cfg.disk}: no such device`);
    }
    disk = await describeDisk(basename(real));
    if (!disk) throw new InvalidArgumentError(`machine.install.disk: ${cfg.disk}: not a whole disk (no /sys/block/${basename(real)})`);
  } else {
    try {
      disk = selectDisk(cfg.diskSelector ?? {}, await discoverDisks());
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof InvalidArgumentError) throw new InvalidArgumentError(`machine.install.diskSelector: ${e.message}`);
      throw e;
    }
  }
  const need = minimumDiskSize(disk.sectorSize);
  if (disk.size < need)
    throw new InvalidArgumentError(`machine.install.disk: ${disk.devPath} is ${formatBytes(disk.size)}; the install needs at least ${formatBytes(need)}`);
  if (disk.readonly) throw new InvalidArgumentError(`machine.install.disk: ${disk.devPath} is read-only`);
  return disk;
}

/** Whether the disk's GPT is our layout already (a finished or a cut-short install): then re-installing needs no wipe. */
async function holdsOurLayout(disk: BlockDisk): Promise<boolean> {
  try {
    const { gpt, partitions } = await diskPartitions(disk.name);
    return gpt.valid && partitions.some((p) => p.label === "STATE") && partitions.some((p) => p.label === "EPHEMERAL");
  } catch {
    return false;
  }
}

/**
 * Installs onto the disk the config names and mounts STATE at /system/state
 * (and EPHEMERAL at /var when `mountEphemeral`: not while services use the
 * RAM /var). The caller then stores the config there, which is what makes the
 * STATE count.
 */
export async function installSystemDisk(
  cfg: InstallConfig,
  opts: { run: Runner; log: (line: string) => void; mountEphemeral: boolean },
): Promise<{ result: InstallResult; status: StorageStatus }> {
  const disk = await resolveInstallDisk(cfg);
  const ours = await holdsOurLayout(disk);
  let result: InstallResult;
  try {
    result = await install({ disk: disk.devPath, wipe: cfg.wipe || ours, run: opts.run, log: opts.log });
  } catch (e) {
    if (e instanceof DiskTooSmallError) throw new InvalidArgumentError(`machine.install.disk: ${e.message}`);
    throw e;
  }
  await ensureXfs(opts.run);
  const state = result.partitions.find((p) => p.label === "STATE")!;
  const ephemeral = result.partitions.find((p) => p.label === "EPHEMERAL")!;
  if (isMountPoint(STATE_DIR)) umount(STATE_DIR);
  mountXfs(state.device, STATE_DIR);
  if (opts.mountEphemeral) mountXfs(ephemeral.device, EPHEMERAL_DIR);
  return {
    result,
    status: {
      mode: "disk",
      disk: disk.devPath,
      state: state.device,
      ...(opts.mountEphemeral ? { ephemeral: ephemeral.device } : {}),
      why: opts.mountEphemeral ? "installed" : "installed; EPHEMERAL is mounted at /var from the next boot",
      repairs: [],
    },
  };
}

/** An XFS superblock starts with "XFSB" at offset 0. */
export function hasXfsSuperblock(dev: string): boolean {
  const fd = openSync(dev, "r");
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString("latin1") === "XFSB";
  } finally {
    closeSync(fd);
  }
}

/** Bytes a wipe zeroes at the start of a partition: every filesystem signature blkid knows sits in the first MiB. */
const WIPE_BYTES = 2 ** 20;

export interface OpenedPartition {
  label: string;
  device: string;
  fd: number;
  size: number;
}

/**
 * Opens the system partitions a Reset wipes, while /dev and /sys are still
 * mounted (the teardown unmounts them before the wipe may run). An open fd
 * does not keep a filesystem from being unmounted.
 */
export async function openForWipe(labels: readonly string[], log: (line: string) => void): Promise<OpenedPartition[]> {
  const found = await findSystemPartitions(log);
  const out: OpenedPartition[] = [];
  for (const label of labels) {
    const part = label === "STATE" ? found?.state : label === "EPHEMERAL" ? found?.ephemeral : undefined;
    if (part) out.push({ label, device: part.devPath, fd: openSync(part.devPath, "r+"), size: part.size });
  }
  return out;
}

/** Zeroes the first MiB (the superblock) and the last of an opened partition, fsyncs and closes it. */
export function wipeOpened(p: OpenedPartition): void {
  try {
    const zeros = Buffer.alloc(WIPE_BYTES);
    writeSync(p.fd, zeros, 0, Math.min(WIPE_BYTES, p.size), 0);
    if (p.size > 2 * WIPE_BYTES) writeSync(p.fd, zeros, 0, WIPE_BYTES, p.size - WIPE_BYTES);
    fsyncSync(p.fd);
  } finally {
    closeSync(p.fd);
  }
}
