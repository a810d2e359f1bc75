// minos's containerd client: gRPC to containerd's socket, no `ctr` and no
// grpc-js. Namespaces are managed here; everything else goes through
// withNamespace(ns), which stamps each call with the namespace header.
//
//   const ctd = ContainerdClient.connect("/system/run/containerd/containerd.sock");
//   await ctd.waitReady(10_000);
//   const sys = ctd.withNamespace("system");
//   await sys.images.list();
import { ApiError, Channel, type CallOptions } from "./grpc.ts";
import { Code } from "../api/status.ts";
import { writeBlob, type WriteBlobOptions, type WrittenBlob } from "./content.ts";
import { NamespaceClient, type containerd } from "./namespaced.ts";
import { decode, encode, methodInfo, type MethodName, type Msg, type Req, type Res, type ServiceName } from "./schema.ts";
import { unpackLayer, type UnpackLayerOptions, type UnpackedLayer } from "./unpack.ts";

type Namespace = containerd.services.namespaces.v1.Namespace;

export interface ContainerdClientOptions {
  /** Deadline for unary calls (Wait and streams excepted); none by default. */
  timeoutMs?: number;
}

export class ContainerdClient {
  private constructor(
    private readonly channel: Channel,
    private readonly timeoutMs?: number,
  ) {}

  /** Connects lazily: the first call dials, and a dead connection is redialled on the next. */
  static connect(socketPath: string, opts: ContainerdClientOptions = {}): ContainerdClient {
    return new ContainerdClient(new Channel(socketPath), opts.timeoutMs);
  }

  get socketPath(): string {
    return this.channel.socketPath;
  }

  private async call<S extends ServiceName, M extends MethodName<S>>(service: S, method: M, req: Msg<Req<S, M>>, opts: CallOptions = {}): Promise<Res<S, M>> {
    const m = methodInfo(service, method);
    const bytes = await this.channel.unary(m.path, encode(m.requestType, req), { timeoutMs: opts.timeoutMs ?? this.timeoutMs, metadata: opts.metadata ?? {} });
    return decode<Res<S, M>>(m.responseType, bytes);
  }

  async version(opts: CallOptions = {}): Promise<{ version: string; revision: string }> {
    return this.call("containerd.services.version.v1.Version", "Version", {}, opts);
  }

  /** Polls Version until containerd answers (socket present and serving) or timeoutMs passes. */
  async waitReady(timeoutMs: number, pollMs = 50): Promise<{ version: string; revision: string }> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        return await this.version({ timeoutMs: Math.max(100, Math.min(2000, until - Date.now())) });
      } catch (e) {
        last = e;
      }
      if (Date.now() >= until)
        throw new ApiError(Code.UNAVAILABLE, `containerd at ${this.socketPath} not ready within ${timeoutMs} ms: ${(last as Error).message}`);
      await Bun.sleep(pollMs);
    }
  }

  // containerd publishes an event for each namespace change and refuses one
  // without a namespace in context: the namespace itself is named in the header.
  private static nsHeader(name: string): CallOptions {
    return { metadata: { "containerd-namespace": name } };
  }

  readonly namespaces = {
    create: async (name: string, labels: Record<string, string> = {}): Promise<Namespace> =>
      (await this.call("containerd.services.namespaces.v1.Namespaces", "Create", { namespace: { name, labels } }, ContainerdClient.nsHeader(name))).namespace!,
    /** Creates `name` unless it exists. */
    ensure: async (name: string, labels: Record<string, string> = {}): Promise<void> => {
      try {
        await this.namespaces.create(name, labels);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === Code.ALREADY_EXISTS)) throw e;
      }
    },
    get: async (name: string): Promise<Namespace> =>
      (await this.call("containerd.services.namespaces.v1.Namespaces", "Get", { name }, ContainerdClient.nsHeader(name))).namespace!,
    list: async (filter = ""): Promise<Namespace[]> => (await this.call("containerd.services.namespaces.v1.Namespaces", "List", { filter })).namespaces,
    /** containerd refuses (FAILED_PRECONDITION) while the namespace still holds anything. */
    delete: async (name: string): Promise<void> => {
      await this.call("containerd.services.namespaces.v1.Namespaces", "Delete", { name }, ContainerdClient.nsHeader(name));
    },
  };

  /** Calls scoped to containerd namespace `ns` (header containerd-namespace). */
  withNamespace(ns: string): NamespaceClient {
    return new NamespaceClient(this.channel, ns, undefined, this.timeoutMs);
  }

  /** See content.ts writeBlob; `ns` is a namespace name or a (possibly leased) NamespaceClient. */
  writeBlob(
    ns: string | NamespaceClient,
    ref: string,
    expectedDigest: string,
    size: number,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts?: WriteBlobOptions,
  ): Promise<WrittenBlob> {
    return writeBlob(typeof ns === "string" ? this.withNamespace(ns) : ns, ref, expectedDigest, size, chunks, opts);
  }

  /** See unpack.ts unpackLayer. */
  unpackLayer(ns: string | NamespaceClient, opts: UnpackLayerOptions): Promise<UnpackedLayer> {
    return unpackLayer(typeof ns === "string" ? this.withNamespace(ns) : ns, opts);
  }

  close(): void {
    this.channel.close();
  }
}
