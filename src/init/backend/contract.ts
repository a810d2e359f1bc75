// What init offers the machine API: the contract between init (which owns
// services, config, sequences and logs) and src/api (an adapter from it to
// protobuf over gRPC). init implements MachineBackend in machine.ts; src/api only
// calls it. Errors thrown are those of src/lib/errors.ts and map to gRPC statuses.
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { ServiceInfo } from "../../node/services.ts";
import type { VersionInfo } from "../../node/version.ts";
import type { DiskInfo, ResetOptions } from "../../node/storage.ts";

export interface MachineBackend {
  hostname(): string;
  version(): VersionInfo;

  listServices(): ServiceInfo[];
  /** Throw NotFoundError for an unknown id. */
  startService(id: string): Promise<string>;
  stopService(id: string): Promise<string>;
  restartService(id: string): Promise<string>;

  /** A service's (or "machined" for init's own) log ring; undefined when unknown. */
  logs(id: string): LogRing | undefined;

  /** Past events (newest last) and live ones. */
  eventHistory(): NodeEvent[];
  subscribeEvents(fn: (e: NodeEvent) => void): Unsubscribe;

  /** Start the shutdown/reboot sequence now (FailedPreconditionError when another non-boot sequence runs). */
  powerAction(action: PowerAction): void;
  scheduleShutdown(s: ScheduledShutdown): void;
  /** Returns false when nothing was scheduled. */
  cancelScheduledShutdown(): boolean;
  scheduledShutdown(): ScheduledShutdown | undefined;

  /** The effective machine config as YAML text. */
  configYaml(): string;
  /** Validate and apply (InvalidArgumentError with the validation message; stored config untouched). */
  applyConfiguration(yaml: string, mode: ApplyMode, tryTimeoutMs?: number): Promise<ApplyResult>;

  /** Reset: stop, wipe the system partitions named, then reboot or power off (FailedPreconditionError like powerAction). */
  reset(opts: ResetOptions): void;
  /** The node's block devices (storage.StorageService/Disks). */
  disks(): Promise<DiskInfo[]>;
}
