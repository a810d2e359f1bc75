// Calls into one containerd namespace: every request carries the
// `containerd-namespace` header (and `containerd-lease` when a lease is set,
// which protects what the call creates from garbage collection).
// Typed raw access (call/stream/duplex) plus thin wrappers per service.
import type { containerd, google } from "./gen/types.ts";
import { ApiError, Channel, type CallOptions, type Call } from "./grpc.ts";
import { Code } from "../api/status.ts";
import {
  OCI_SPEC_TYPE_URL,
  decode,
  decodeAny,
  encode,
  fromTimestamp,
  methodInfo,
  packJson,
  type MethodName,
  type Msg,
  type Req,
  type Res,
  type ServiceName,
} from "./schema.ts";

export type { containerd, google };

type ContentV1 = containerd.services.content.v1.Info;
type Descriptor = containerd.types.Descriptor;
type Mount = containerd.types.Mount;

/** A stream of replies you can stop early (breaking out of for-await also stops it). */
export interface Stream<T> extends AsyncIterable<T> {
  cancel(): void;
}

/** A bidirectional call: send requests, read replies in order; done settles with the status. */
export interface Duplex<Q, R> {
  send(req: Msg<Q>): Promise<void>;
  /** Sends a request already encoded and framed (see content.ts writeRequestFrame). */
  sendFramed(framed: Uint8Array): Promise<void>;
  end(): void;
  next(): Promise<R | undefined>;
  cancel(): void;
  /** The peer's current SETTINGS_INITIAL_WINDOW_SIZE (see Call.peerInitialWindow). */
  peerInitialWindow(): number;
  readonly done: Promise<void>;
}

/** An event with its payload decoded (containerd.events.TaskExit for "/tasks/exit", ...). */
export interface ContainerdEvent {
  topic: string;
  namespace: string;
  timestamp: Date | undefined;
  /** The payload's message name, e.g. "containerd.events.TaskExit". */
  type: string;
  /** undefined when the payload type is not in our schema. */
  payload: Record<string, unknown> | undefined;
}

export const DEFAULT_SNAPSHOTTER = "overlayfs";
export const DEFAULT_RUNTIME = "io.containerd.runc.v2";

export interface ContainerSpec {
  id: string;
  /** The OCI runtime spec (config.json's object). */
  spec: object;
  image?: string;
  runtime?: string;
  /** The runtime's options (for runc: containerd.runc.v1.Options, see runcOptions). */
  runtimeOptions?: google.protobuf.Any;
  snapshotter?: string;
  snapshotKey?: string;
  labels?: Record<string, string>;
}

/**
 * The process's stdio as the runc shim takes it: all three empty is
 * /dev/null; otherwise stdout and stderr are both required, each a FIFO (the
 * shim copies into it; the caller reads) or an existing file (appended to),
 * or both the same "file:///path" URI (the shim creates it). stdin, if set,
 * is a FIFO the caller has already opened for writing (O_RDWR opens without
 * waiting) before Create: a shim that finds no writer reads EOF at once.
 * The shim keeps the FIFO open itself: the process's end of input is
 * tasks.closeStdin, not the caller closing its end.
 */
export interface TaskIO {
  stdin?: string;
  stdout?: string;
  stderr?: string;
  terminal?: boolean;
  /** Root filesystem mounts (e.g. a snapshot's); leave out when spec.root.path is already populated. */
  rootfs?: Msg<Mount>[];
}

export class NamespaceClient {
  constructor(
    private readonly channel: Channel,
    readonly namespace: string,
    readonly lease?: string,
    private readonly timeoutMs?: number,
  ) {
    if (!namespace) throw new Error("containerd namespace must not be empty");
  }

  /**
   * The same namespace and lease over a connection of its own, for a large
   * upload: HTTP/2's connection window is then not shared with other
   * uploads (see content.ts on why that matters under Bun). close() it after.
   */
  ownConnection(): { client: NamespaceClient; close(): void } {
    const channel = new Channel(this.channel.socketPath);
    return { client: new NamespaceClient(channel, this.namespace, this.lease, this.timeoutMs), close: () => channel.close() };
  }

  /** containerd's socket, for a connection that is not the client's (content.ts uploads). */
  get socketPath(): string {
    return this.channel.socketPath;
  }

  /** The request metadata every call of this client carries (namespace, lease). */
  metadata(): Record<string, string> {
    return this.options().metadata ?? {};
  }

  /** The same namespace, with every call also holding lease `id`. */
  withLease(id: string): NamespaceClient {
    return new NamespaceClient(this.channel, this.namespace, id, this.timeoutMs);
  }

  private options(opts: CallOptions = {}): CallOptions {
    const metadata: Record<string, string> = { "containerd-namespace": this.namespace, ...opts.metadata };
    if (this.lease) metadata["containerd-lease"] = this.lease;
    const timeoutMs = "timeoutMs" in opts ? opts.timeoutMs : this.timeoutMs;
    return timeoutMs === undefined ? { metadata } : { metadata, timeoutMs };
  }

  /** Any unary method. opts.timeoutMs overrides the client's (pass undefined for none, e.g. Wait). */
  async call<S extends ServiceName, M extends MethodName<S>>(service: S, method: M, req: Msg<Req<S, M>>, opts?: CallOptions): Promise<Res<S, M>> {
    const m = methodInfo(service, method);
    const bytes = await this.channel.unary(m.path, encode(m.requestType, req), this.options(opts));
    return decode<Res<S, M>>(m.responseType, bytes);
  }

  /** Any server-streaming method. */
  stream<S extends ServiceName, M extends MethodName<S>>(service: S, method: M, req: Msg<Req<S, M>>): Stream<Res<S, M>> {
    const m = methodInfo(service, method);
    const call = this.channel.serverStream(m.path, encode(m.requestType, req), this.options({ timeoutMs: undefined }));
    return {
      cancel: () => call.cancel(),
      async *[Symbol.asyncIterator]() {
        for await (const b of call) yield decode<Res<S, M>>(m.responseType, b);
      },
    };
  }

  /** Any client- or bidirectional-streaming method. */
  duplex<S extends ServiceName, M extends MethodName<S>>(service: S, method: M): Duplex<Req<S, M>, Res<S, M>> {
    const m = methodInfo(service, method);
    const call: Call = this.channel.open(m.path, this.options({ timeoutMs: undefined }));
    return {
      send: (req) => call.send(encode(m.requestType, req)),
      sendFramed: (framed) => call.sendFramed(framed),
      end: () => call.end(),
      next: async () => {
        const b = await call.next();
        return b === undefined ? undefined : decode<Res<S, M>>(m.responseType, b);
      },
      cancel: () => call.cancel(),
      peerInitialWindow: () => call.peerInitialWindow(),
      done: call.done,
    };
  }

  readonly content = {
    info: async (digest: string): Promise<ContentV1> => (await this.call("containerd.services.content.v1.Content", "Info", { digest })).info!,
    list: async (filters: string[] = []): Promise<ContentV1[]> => {
      const out: ContentV1[] = [];
      for await (const r of this.stream("containerd.services.content.v1.Content", "List", { filters })) out.push(...r.info);
      return out;
    },
    /** The unfinished write session of `ref` (NOT_FOUND when there is none). */
    status: async (ref: string) => (await this.call("containerd.services.content.v1.Content", "Status", { ref })).status,
    listStatuses: async (filters: string[] = []) => (await this.call("containerd.services.content.v1.Content", "ListStatuses", { filters })).statuses,
    abort: async (ref: string): Promise<void> => {
      await this.call("containerd.services.content.v1.Content", "Abort", { ref });
    },
    delete: async (digest: string): Promise<void> => {
      await this.call("containerd.services.content.v1.Content", "Delete", { digest });
    },
    /** A blob's bytes from offset (size 0: to the end), chunk by chunk. */
    read: (digest: string, offset = 0, size = 0): Stream<Uint8Array> => {
      const s = this.stream("containerd.services.content.v1.Content", "Read", { digest, offset, size });
      return {
        cancel: () => s.cancel(),
        async *[Symbol.asyncIterator]() {
          for await (const r of s) yield r.data;
        },
      };
    },
  };

  readonly images = {
    create: async (image: Msg<containerd.services.images.v1.Image>) => (await this.call("containerd.services.images.v1.Images", "Create", { image })).image!,
    get: async (name: string) => (await this.call("containerd.services.images.v1.Images", "Get", { name })).image!,
    list: async (filters: string[] = []) => (await this.call("containerd.services.images.v1.Images", "List", { filters })).images,
    /** Replaces the fields named in paths (all when empty), e.g. ["target"], ["labels.foo"]. */
    update: async (image: Msg<containerd.services.images.v1.Image>, paths: string[] = []) =>
      (await this.call("containerd.services.images.v1.Images", "Update", { image, update_mask: paths.length ? { paths } : null })).image!,
    delete: async (name: string, sync = false): Promise<void> => {
      await this.call("containerd.services.images.v1.Images", "Delete", { name, sync });
    },
  };

  readonly leases = {
    /** Labels such as containerd.io/gc.expire (RFC 3339) bound the lease's life if it is never deleted. */
    create: async (id: string, labels: Record<string, string> = {}) =>
      (await this.call("containerd.services.leases.v1.Leases", "Create", { id, labels })).lease!,
    delete: async (id: string, sync = false): Promise<void> => {
      await this.call("containerd.services.leases.v1.Leases", "Delete", { id, sync });
    },
    list: async (filters: string[] = []) => (await this.call("containerd.services.leases.v1.Leases", "List", { filters })).leases,
    /** type: "content" (id a digest), "ingests" (a write ref) or "snapshots/<snapshotter>" (a key). */
    addResource: async (id: string, resource: { id: string; type: string }): Promise<void> => {
      await this.call("containerd.services.leases.v1.Leases", "AddResource", { id, resource });
    },
    deleteResource: async (id: string, resource: { id: string; type: string }): Promise<void> => {
      await this.call("containerd.services.leases.v1.Leases", "DeleteResource", { id, resource });
    },
    listResources: async (id: string) => (await this.call("containerd.services.leases.v1.Leases", "ListResources", { id })).resources,
  };

  readonly snapshots = {
    prepare: async (key: string, parent = "", opts: { snapshotter?: string; labels?: Record<string, string> } = {}): Promise<Mount[]> =>
      (
        await this.call("containerd.services.snapshots.v1.Snapshots", "Prepare", {
          snapshotter: opts.snapshotter ?? DEFAULT_SNAPSHOTTER,
          key,
          parent,
          labels: opts.labels ?? {},
        })
      ).mounts,
    view: async (key: string, parent: string, opts: { snapshotter?: string; labels?: Record<string, string> } = {}): Promise<Mount[]> =>
      (
        await this.call("containerd.services.snapshots.v1.Snapshots", "View", {
          snapshotter: opts.snapshotter ?? DEFAULT_SNAPSHOTTER,
          key,
          parent,
          labels: opts.labels ?? {},
        })
      ).mounts,
    mounts: async (key: string, snapshotter = DEFAULT_SNAPSHOTTER): Promise<Mount[]> =>
      (await this.call("containerd.services.snapshots.v1.Snapshots", "Mounts", { snapshotter, key })).mounts,
    commit: async (name: string, key: string, opts: { snapshotter?: string; labels?: Record<string, string> } = {}): Promise<void> => {
      await this.call("containerd.services.snapshots.v1.Snapshots", "Commit", {
        snapshotter: opts.snapshotter ?? DEFAULT_SNAPSHOTTER,
        name,
        key,
        labels: opts.labels ?? {},
      });
    },
    remove: async (key: string, snapshotter = DEFAULT_SNAPSHOTTER): Promise<void> => {
      await this.call("containerd.services.snapshots.v1.Snapshots", "Remove", { snapshotter, key });
    },
    stat: async (key: string, snapshotter = DEFAULT_SNAPSHOTTER) =>
      (await this.call("containerd.services.snapshots.v1.Snapshots", "Stat", { snapshotter, key })).info!,
    list: async (snapshotter = DEFAULT_SNAPSHOTTER, filters: string[] = []) => {
      const out: containerd.services.snapshots.v1.Info[] = [];
      for await (const r of this.stream("containerd.services.snapshots.v1.Snapshots", "List", { snapshotter, filters })) out.push(...r.info);
      return out;
    },
  };

  readonly diff = {
    /** Unpacks layer blob `layer` (from the content store) onto mounts; returns the uncompressed descriptor (digest = diff ID). */
    apply: async (layer: Msg<Descriptor>, mounts: Msg<Mount>[]): Promise<Descriptor> =>
      (await this.call("containerd.services.diff.v1.Diff", "Apply", { diff: layer, mounts })).applied!,
  };

  readonly containers = {
    create: async (c: ContainerSpec) =>
      (
        await this.call("containerd.services.containers.v1.Containers", "Create", {
          container: {
            id: c.id,
            image: c.image ?? "",
            labels: c.labels ?? {},
            runtime: { name: c.runtime ?? DEFAULT_RUNTIME, options: c.runtimeOptions ?? null },
            spec: packJson(OCI_SPEC_TYPE_URL, c.spec),
            snapshotter: c.snapshotter ?? "",
            snapshot_key: c.snapshotKey ?? "",
          },
        })
      ).container!,
    get: async (id: string) => (await this.call("containerd.services.containers.v1.Containers", "Get", { id })).container!,
    list: async (filters: string[] = []) => (await this.call("containerd.services.containers.v1.Containers", "List", { filters })).containers,
    update: async (container: Msg<containerd.services.containers.v1.Container>, paths: string[] = []) =>
      (await this.call("containerd.services.containers.v1.Containers", "Update", { container, update_mask: paths.length ? { paths } : null })).container!,
    delete: async (id: string): Promise<void> => {
      await this.call("containerd.services.containers.v1.Containers", "Delete", { id });
    },
  };

  readonly tasks = {
    create: async (containerId: string, io: TaskIO = {}) => {
      if ((io.stdin || io.stdout || io.stderr) && !(io.stdout && io.stderr))
        throw new ApiError(Code.INVALID_ARGUMENT, `task ${containerId}: stdout and stderr must both be set when any stdio is (the shim opens both)`);
      return this.call("containerd.services.tasks.v1.Tasks", "Create", {
        container_id: containerId,
        stdin: io.stdin ?? "",
        stdout: io.stdout ?? "",
        stderr: io.stderr ?? "",
        terminal: io.terminal ?? false,
        rootfs: io.rootfs ?? [],
      });
    },
    start: async (containerId: string, execId = ""): Promise<number> =>
      (await this.call("containerd.services.tasks.v1.Tasks", "Start", { container_id: containerId, exec_id: execId })).pid,
    /** Blocks until the process exits (no deadline unless given). */
    wait: async (containerId: string, execId = "", timeoutMs?: number): Promise<{ exitStatus: number; exitedAt: google.protobuf.Timestamp | null }> => {
      const r = await this.call("containerd.services.tasks.v1.Tasks", "Wait", { container_id: containerId, exec_id: execId }, { timeoutMs });
      return { exitStatus: r.exit_status, exitedAt: r.exited_at };
    },
    kill: async (containerId: string, signal: number, opts: { execId?: string; all?: boolean } = {}): Promise<void> => {
      await this.call("containerd.services.tasks.v1.Tasks", "Kill", { container_id: containerId, exec_id: opts.execId ?? "", signal, all: opts.all ?? false });
    },
    delete: async (containerId: string) => this.call("containerd.services.tasks.v1.Tasks", "Delete", { container_id: containerId }),
    get: async (containerId: string, execId = "") =>
      (await this.call("containerd.services.tasks.v1.Tasks", "Get", { container_id: containerId, exec_id: execId })).process!,
    list: async (filter = "") => (await this.call("containerd.services.tasks.v1.Tasks", "List", { filter })).tasks,
    /** Closes the process's stdin (the shim stops copying from the stdin FIFO). */
    closeStdin: async (containerId: string, execId = ""): Promise<void> => {
      await this.call("containerd.services.tasks.v1.Tasks", "CloseIO", { container_id: containerId, exec_id: execId, stdin: true });
    },
    pids: async (containerId: string) => (await this.call("containerd.services.tasks.v1.Tasks", "ListPids", { container_id: containerId })).processes,
    metrics: async (filters: string[] = []) => (await this.call("containerd.services.tasks.v1.Tasks", "Metrics", { filters })).metrics,
  };

  readonly events = {
    /** Live events (all namespaces unless a filter says e.g. `namespace=="k8s.io"`); filters are OR-ed. */
    subscribe: (filters: string[] = []): Stream<ContainerdEvent> => {
      const s = this.stream("containerd.services.events.v1.Events", "Subscribe", { filters });
      return {
        cancel: () => s.cancel(),
        async *[Symbol.asyncIterator]() {
          for await (const e of s) {
            const url = e.event?.type_url ?? "";
            yield {
              topic: e.topic,
              namespace: e.namespace,
              timestamp: fromTimestamp(e.timestamp),
              type: url.slice(url.lastIndexOf("/") + 1),
              payload: decodeAny<Record<string, unknown>>(e.event),
            };
          }
        },
      };
    },
  };

  readonly introspection = {
    plugins: async (filters: string[] = []) => (await this.call("containerd.services.introspection.v1.Introspection", "Plugins", { filters })).plugins,
    server: async () => this.call("containerd.services.introspection.v1.Introspection", "Server", {}),
  };
}

/**
 * The runc shim's options as an Any (containerd.runc.v1.Options, written by
 * hand: field 1 no_pivot_root, a bool). noPivotRoot: runc moves into the
 * container's root with MS_MOVE + chroot instead of pivot_root(2), which the
 * kernel refuses when the node's own root is the initramfs (rootfs).
 */
export function runcOptions(o: { noPivotRoot?: boolean }): google.protobuf.Any {
  return { type_url: "containerd.runc.v1.Options", value: o.noPivotRoot ? Uint8Array.of(0x08, 0x01) : new Uint8Array(0) };
}
