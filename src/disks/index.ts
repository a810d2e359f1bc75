// src/disks: the system disk — GPT, Talos's layout, discovery, the install
// disk selector, install and XFS repair. Imports only src/sys and src/lib.
export { crc32 } from "./crc32.ts";
export { randomGuid, normalizeGuid } from "./guid.ts";
export { readGpt, encodeGpt, gptGeometry, type GptTable, type GptPartition, type GptReadResult, type BlockReader, type DiskWrite } from "./gpt.ts";
export { openDisk, type Disk, type OpenDiskOptions } from "./device.ts";
export {
  planLayout,
  layoutTable,
  minimumDiskSize,
  DiskTooSmallError,
  LABELS,
  TYPE_EFI_SYSTEM,
  TYPE_BIOS_BOOT,
  TYPE_LINUX_DATA,
  ATTR_LEGACY_BIOS_BOOTABLE,
  type Label,
  type LayoutOptions,
  type PlannedPartition,
} from "./layout.ts";
export { describeContents } from "./probe.ts";
export {
  discoverDisks,
  describeDisk,
  diskPartitions,
  findPartitionByLabel,
  kernelPartitions,
  partitionName,
  type BlockDisk,
  type DiskPartition,
  type DiscoverOptions,
  type DiskType,
} from "./discover.ts";
export { selectDisk, mismatch, validateSelector, parseSizeMatcher, glob, type DiskSelector, type SizeMatcher } from "./selector.ts";
export { parseBytes, formatBytes } from "./units.ts";
export { formatXfs, repairXfs, MKFS_XFS, XFS_REPAIR, type Runner, type RepairResult, type RepairAction, type RepairOptions } from "./format.ts";
export { syncKernelPartitions, ensurePartitionDevices, waitForPartitions, type Reread } from "./kernel.ts";
export { install, writeLayout, type InstallOptions, type InstallResult, type InstalledPartition, type WriteLayoutResult } from "./install.ts";
