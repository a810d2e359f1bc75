// The system disk as the layers share it: what Reset wipes, and a disk as
// storage.StorageService/Disks lists it.

/** The system partitions a Reset may wipe (Talos's labels). */
export const WIPEABLE_LABELS = ["STATE", "EPHEMERAL"] as const;
export type WipeableLabel = (typeof WIPEABLE_LABELS)[number];

export interface ResetOptions {
  /** Stop services in order first; false: the teardown kills them. */
  graceful: boolean;
  /** Reboot after the wipe; false: power off. */
  reboot: boolean;
  /** Partitions to wipe. */
  labels: WipeableLabel[];
}

export type DiskKind = "UNKNOWN" | "SSD" | "HDD" | "NVME" | "SD" | "CD";

export interface DiskInfo {
  size: number;
  model: string;
  deviceName: string;
  name: string;
  serial: string;
  modalias: string;
  uuid: string;
  wwid: string;
  type: DiskKind;
  busPath: string;
  systemDisk: boolean;
  subsystem: string;
  readonly: boolean;
}
