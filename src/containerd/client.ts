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
import { decode, encode, methodInfo } from "./schema.ts";
import { unpackLayer, type UnpackLayerOptions, type UnpackedLayer } from "./unpack.ts";

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

  private async unary<T>(service: string, method: string, requestType: string, req: object, opts: CallOptions = {}): Promise<T> {
    const m = methodInfo(service as "containerd.services.version.v1.Version", method);
    const bytes = await this.channel.unary(m.path, encode(requestType, req), { timeoutMs: opts.timeoutMs ?? this.timeoutMs });
    return decode<T>(m.responseType, bytes);
  }

  async version(opts: CallOptions = {}): Promise<{ version: string; revision: string }> {
    return this.unary("containerd.services.version.v1.Version", "Version", "google.protobuf.Empty", {}, opts);
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
      if (Date.now() >= until) throw new ApiError(Code.UNAVAILABLE, `containerd at ${this.socketPath} not ready within ${timeoutMs} ms: ${(last as Error).message}`);
      await Bun.sleep(pollMs);
    }
  }

  readonly namespaces = {
    create: async (name: string, labels: Record<string, string> = {}): Promise<containerd.services.namespaces.v1.Namespace> =>
      (await this.unary<containerd.services.namespaces.v1.CreateNamespaceResponse>("containerd.services.namespaces.v1.Namespaces", "Create", "containerd.services.namespaces.v1.CreateNamespaceRequest", { namespace: { name, labels } })).namespace!,
    /** Creates `name` unless it exists. */
    ensure: async (name: string, labels: Record<string, string> = {}): Promise<void> => {
      try {
        await this.namespaces.create(name, labels);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === Code.ALREADY_EXISTS)) throw e;
      }
    },
    get: async (name: string): Promise<containerd.services.namespaces.v1.Namespace> =>
      (await this.unary<containerd.services.namespaces.v1.GetNamespaceResponse>("containerd.services.namespaces.v1.Namespaces", "Get", "containerd.services.namespaces.v1.GetNamespaceRequest", { name })).namespace!,
    list: async (filter = ""): Promise<containerd.services.namespaces.v1.Namespace[]> =>
      (await this.unary<containerd.services.namespaces.v1.ListNamespacesResponse>("containerd.services.namespaces.v1.Namespaces", "List", "containerd.services.namespaces.v1.ListNamespacesRequest", { filter })).namespaces,
    /** containerd refuses (FAILED_PRECONDITION) while the namespace still holds anything. */
    delete: async (name: string): Promise<void> => {
      await this.unary("containerd.services.namespaces.v1.Namespaces", "Delete", "containerd.services.namespaces.v1.DeleteNamespaceRequest", { name });
    },
  };

  /** Calls scoped to containerd namespace `ns` (header containerd-namespace). */
  withNamespace(ns: string): NamespaceClient {
    return new NamespaceClient(this.channel, ns, undefined, this.timeoutMs);
  }

  /** See content.ts writeBlob; `ns` is a namespace name or a (possibly leased) NamespaceClient. */
  writeBlob(ns: string | NamespaceClient, ref: string, expectedDigest: string, size: number, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: WriteBlobOptions): Promise<WrittenBlob> {
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
