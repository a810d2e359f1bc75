// What init offers the machine API: the contract between init (which owns
// services, config, sequences and logs) and src/api (an adapter from it to
// protobuf over gRPC). init implements MachineBackend in machine.ts; src/api only
// calls it. Errors thrown are those of src/lib/errors.ts and map to gRPC statuses.
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { ServiceInfo } from "../../node/services.ts";
import type { TimeAnswer, TimeSyncInfo } from "../../node/time.ts";
import type { VersionInfo } from "../../node/version.ts";
import type { AddressStatus, DhcpLeaseStatus, ResolverStatus, RouteStatus } from "../../node/network.ts";

/** The node's network for the API (minos extension calls); init's NetworkRuntime provides it. */
export interface NetworkBackend {
  addresses(): AddressStatus[];
  routes(): RouteStatus[];
  resolvers(): ResolverStatus;
  dhcpLeases(): DhcpLeaseStatus[];
}
import type { DiskInfo, ResetOptions } from "../../node/storage.ts";
import type { EtcdBackend } from "./etcd-contract.ts";

/** An image in one of containerd's namespaces (Talos's ImageList entry). */
export interface ImageInfo {
  name: string;
  digest: string;
  size: number;
  createdAt?: Date;
}

/** containerd's namespaces the image RPCs address: Talos's NS_SYSTEM and NS_CRI. */
export type ImageNamespace = "system" | "k8s.io";

export interface ImageBackend {
  list(namespace: ImageNamespace): Promise<ImageInfo[]>;
  /** Pulls `ref` (InvalidArgumentError for a malformed one, UnavailableError / NotFoundError naming the registry's answer). */
  pull(namespace: ImageNamespace, ref: string): Promise<{ name: string; digest: string }>;
  /** Imports an OCI layout tar read as a stream; `name` names entries without a name annotation. Returns the image names. */
  import(namespace: ImageNamespace, tar: AsyncIterable<Uint8Array>, name?: string): Promise<string[]>;
}

/** containerd's namespaces the container RPCs address ("system": minos's own containers; "k8s.io": the CRI's). */
export type ContainerNamespace = "system" | "k8s.io";

/** A container with a task (Talos's ContainerInfo). */
export interface ContainerInfo {
  namespace: ContainerNamespace;
  /** As shown: the container id, or "<pod namespace>/<pod>:<container>" (a pod's sandbox: "<pod namespace>/<pod>"). */
  id: string;
  /** containerd's container id. */
  internalId: string;
  image: string;
  pid: number;
  /** The task's status: RUNNING, STOPPED, PAUSED, CREATED, UNKNOWN. */
  status: string;
  /** The pod (or, outside Kubernetes, the container itself) it belongs to. */
  podId: string;
  name: string;
  /** The pod's uid (io.kubernetes.pod.uid); "" outside Kubernetes. */
  uid: string;
  /** The network namespace path of its spec; "" when it shares the host's. */
  networkNamespace: string;
}

/** A running container's usage (Talos's Stat). */
export interface ContainerStat {
  namespace: ContainerNamespace;
  id: string;
  podId: string;
  name: string;
  /** Bytes (its cgroup's memory.current; see containers.ts for the fallback). */
  memoryUsage: number;
  /** Nanoseconds of CPU time (its cgroup's cpu.stat usage_usec). */
  cpuUsage: number;
}

export interface ContainerLogOptions {
  /** Newest lines first: negative for all. */
  tailLines: number;
  follow: boolean;
  /** Ends a follow. */
  signal: AbortSignal;
}

export interface ContainerBackend {
  list(namespace: ContainerNamespace): Promise<ContainerInfo[]>;
  stats(namespace: ContainerNamespace): Promise<ContainerStat[]>;
  /** NotFoundError naming an id no container with a task has (id as shown or containerd's). */
  restart(namespace: ContainerNamespace, id: string): Promise<void>;
  /**
   * A Kubernetes container's log file (the CRI's, under /var/log/pods), line by
   * line; NotFoundError for an unknown id or one without a log file. System
   * containers' logs are their services' rings (MachineBackend.logs).
   */
  criLogs(id: string, opts: ContainerLogOptions): AsyncIterable<string>;
}

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
  powerAction(action: PowerAction, actorId?: string): void;
  scheduleShutdown(s: ScheduledShutdown): void;
  /** Returns false when nothing was scheduled. */
  cancelScheduledShutdown(): boolean;
  scheduledShutdown(): ScheduledShutdown | undefined;

  /** SNTP state; undefined before the time phase (or with machine.time.disabled). */
  timeSync(): TimeSyncInfo | undefined;
  /** Asks `server` (default: the synced one, else the first configured) for the time (Talos's Time / TimeCheck). */
  queryTime(server?: string): Promise<TimeAnswer>;

  /** The effective machine config as YAML text. */
  configYaml(): string;
  /**
   * The same text as a non-admin may see it: every secret (machine.ca.key)
   * replaced by REDACTED. Made when the config was validated, so a call is a
   * lookup; throws (INTERNAL) when the text could not be redacted safely.
   */
  redactedConfigYaml(): string;
  /**
   * Validate and apply (InvalidArgumentError with the validation message; stored config untouched).
   * Bytes are decoded as strict UTF-8: what is stored is exactly what was validated.
   * A try period over MAX_TRY_MS is InvalidArgumentError; a store that fails is
   * ResourceExhaustedError (no space) or another error, with nothing changed.
   * Once `signal` aborted (the client is gone) nothing is stored or applied.
   * `dryRun`: validate and say what would change and what the mode would do; nothing changes.
   */
  applyConfiguration(
    data: string | Uint8Array,
    mode: ApplyMode,
    tryTimeoutMs?: number,
    signal?: AbortSignal,
    dryRun?: boolean,
    actorId?: string,
  ): Promise<ApplyResult>;

  /** The network (absent in backends without one: the calls then answer UNIMPLEMENTED). */
  network?: NetworkBackend;

  /** Reset: stop, wipe the system partitions named, then reboot or power off (FailedPreconditionError like powerAction). */
  reset(opts: ResetOptions): void;
  /** The node's block devices (storage.StorageService/Disks). */
  disks(): Promise<DiskInfo[]>;

  /** The Etcd calls; absent: this backend has no etcd (every Etcd call answers FAILED_PRECONDITION). */
  etcd?: EtcdBackend;

  /** Images in containerd (absent where there is no containerd: the RPCs answer FAILED_PRECONDITION). */
  images?: ImageBackend;

  /** Containers in containerd (absent where there is no containerd: the RPCs answer FAILED_PRECONDITION). */
  containers?: ContainerBackend;
}
