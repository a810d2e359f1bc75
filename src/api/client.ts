// The typed machine API client used by minosctl, the dashboard, poweroff and
// shutdown. Speaks gRPC through the lean node:http2 transport (no grpc-js).
// Each convenience method returns this node's message (Talos replies wrap one
// message per node in `messages`); `call`/`stream` give the raw replies.
//
//   const c = connect({ endpoint: "unix:/system/run/machined/machine.sock" });
//   const { version } = await c.version();
//   for await (const line of c.logs("containerd", { follow: true })) ...
import type { Services, machine, minos, common, google, storage } from "./gen/types.ts";
import { anyTypeName, decode, encode, fromTimestamp, methodInfo, toTimestamp, type ServiceName } from "./schema.ts";
import { ApiError, Transport, parseEndpoint, type CallOptions, type TlsOptions } from "./transport.ts";
import type { Msg } from "./wire.ts";
import { Code } from "./status.ts";
import { POWER, powerActionFromWire, type PowerAction } from "../node/power.ts";
import type { ApplyMode } from "../node/config.ts";

export { ApiError, parseEndpoint, type TlsOptions } from "./transport.ts";
export { Code, CODE_NAMES } from "./status.ts";

export interface ConnectOptions {
  /** "unix:/path" (full access) or "host:port" (mutual TLS; needs tls). */
  endpoint: string;
  tls?: TlsOptions;
  /** Maintenance mode: TLS without verifying the node's certificate, no client certificate (tls is ignored). */
  insecure?: boolean;
  /** Deadline applied to unary calls (streams run until cancelled). */
  timeoutMs?: number;
  /** gRPC metadata for every call: `node` (one target) or `nodes` (several) make the endpoint forward (src/api/forward.ts). */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
}

type Req<S extends ServiceName, M extends keyof Services[S]> = Services[S][M] extends { req: infer Q } ? Q : never;
type Res<S extends ServiceName, M extends keyof Services[S]> = Services[S][M] extends { res: infer R } ? R : never;

/** An async iterable you can also stop early (a follow stream runs until cancelled). */
export interface Stream<T> extends AsyncIterable<T> {
  cancel(): void;
}

/** An Events message with its payload decoded: type is the payload's message name (machine.ServiceStateEvent, ...). */
export interface NodeEventMsg {
  id: string;
  hostname: string;
  type: string;
  payload: Record<string, unknown>;
  /** When it happened on the node (minos field; undefined from a server that does not send it). */
  ts?: Date;
  /** The API call that caused it ("" when none did). */
  actorId: string;
}

function first<T>(res: { messages: T[] }, what: string): T {
  const m = res.messages[0];
  if (!m) throw new ApiError(Code.INTERNAL, `${what}: empty reply`);
  return m;
}

function mapStream<A, B>(s: Stream<A>, f: (a: A) => B): Stream<B> {
  return {
    cancel: () => s.cancel(),
    async *[Symbol.asyncIterator]() {
      for await (const a of s) yield f(a);
    },
  };
}

export class MachineClient {
  constructor(
    private readonly transport: Transport,
    private readonly timeoutMs?: number,
  ) {}

  /** Any unary method, raw reply. */
  async call<S extends ServiceName, M extends keyof Services[S] & string>(
    service: S,
    method: M,
    req: Msg<Req<S, M>>,
    opts: CallOptions = {},
  ): Promise<Res<S, M>> {
    const m = methodInfo(service, method);
    const bytes = await this.transport.unary(m.path, encode(m.requestType, req), { timeoutMs: opts.timeoutMs ?? this.timeoutMs });
    return decode<Res<S, M>>(m.responseType, bytes);
  }

  /** Any client-streaming method: every request, one reply. */
  async clientStream<S extends ServiceName, M extends keyof Services[S] & string>(
    service: S,
    method: M,
    reqs: Msg<Req<S, M>>[],
    opts: CallOptions = {},
  ): Promise<Res<S, M>> {
    const m = methodInfo(service, method);
    const bytes = await this.transport.clientStream(
      m.path,
      reqs.map((r) => encode(m.requestType, r)),
      { timeoutMs: opts.timeoutMs ?? this.timeoutMs },
    );
    return decode<Res<S, M>>(m.responseType, bytes);
  }

  /** Any server-streaming method, raw messages. */
  /** A client-streaming call: the requests as they come, then every reply. */
  async upload<S extends ServiceName, M extends keyof Services[S] & string>(service: S, method: M, reqs: AsyncIterable<Msg<Req<S, M>>>): Promise<Res<S, M>[]> {
    const m = methodInfo(service, method);
    async function* encoded() {
      for await (const r of reqs) yield encode(m.requestType, r);
    }
    const replies = await this.transport.upload(m.path, encoded());
    return replies.map((b) => decode<Res<S, M>>(m.responseType, b));
  }

  stream<S extends ServiceName, M extends keyof Services[S] & string>(service: S, method: M, req: Msg<Req<S, M>>): Stream<Res<S, M>> {
    const m = methodInfo(service, method);
    const s = this.transport.serverStream(m.path, encode(m.requestType, req));
    return mapStream(s, (b) => decode<Res<S, M>>(m.responseType, b));
  }

  private machine<M extends keyof Services["machine.MachineService"] & string>(
    method: M,
    req: Msg<Req<"machine.MachineService", M>> = {} as Msg<Req<"machine.MachineService", M>>,
  ) {
    return this.call("machine.MachineService", method, req);
  }

  async version(): Promise<machine.Version> {
    return first(await this.machine("Version"), "Version");
  }
  async hostname(): Promise<string> {
    return first(await this.machine("Hostname"), "Hostname").hostname;
  }
  async serviceList(): Promise<machine.ServiceInfo[]> {
    return first(await this.machine("ServiceList"), "ServiceList").services;
  }
  async serviceStart(id: string): Promise<string> {
    return first(await this.machine("ServiceStart", { id }), "ServiceStart").resp;
  }
  async serviceStop(id: string): Promise<string> {
    return first(await this.machine("ServiceStop", { id }), "ServiceStop").resp;
  }
  async serviceRestart(id: string): Promise<string> {
    return first(await this.machine("ServiceRestart", { id }), "ServiceRestart").resp;
  }

  /** A service's log lines (without the newline). tail: newest N first (-1 all, the default); follow: keep streaming. */
  logs(id: string, opts: { tail?: number; follow?: boolean } = {}): Stream<string> {
    const s = this.stream("machine.MachineService", "Logs", { id, tail_lines: opts.tail ?? -1, follow: opts.follow ?? false });
    return mapStream(s, (d: common.Data) => Buffer.from(d.bytes).toString("utf8").replace(/\n$/, ""));
  }

  /** Kernel messages, one formatted line each. tail: only new ones; follow: keep streaming. */
  dmesg(opts: { follow?: boolean; tail?: boolean } = {}): Stream<string> {
    const s = this.stream("machine.MachineService", "Dmesg", { follow: opts.follow ?? false, tail: opts.tail ?? false });
    return mapStream(s, (d: common.Data) => Buffer.from(d.bytes).toString("utf8").replace(/\n$/, ""));
  }

  /** Node events, live; tail replays past ones first (-1 all, 0 none), or those after tailId / of the last tailSeconds. */
  events(opts: { tail?: number; tailId?: string; tailSeconds?: number; actorId?: string } = {}): Stream<NodeEventMsg> {
    const s = this.stream("machine.MachineService", "Events", {
      tail_events: opts.tail ?? 0,
      tail_id: opts.tailId ?? "",
      tail_seconds: opts.tailSeconds ?? 0,
      with_actor_id: opts.actorId ?? "",
    });
    return mapStream(s, (e: machine.Event) => {
      const type = e.data ? anyTypeName(e.data) : "";
      let payload: Record<string, unknown> = {};
      try {
        if (e.data) payload = decode<Record<string, unknown>>(type, e.data.value);
      } catch {
        // a payload type this client does not know: keep the event, without its fields
      }
      return { id: e.id, hostname: e.metadata?.hostname ?? "", type, payload, ts: fromTimestamp(e.ts), actorId: e.actor_id };
    });
  }

  async shutdown(opts: { force?: boolean } = {}): Promise<machine.Shutdown> {
    return first(await this.machine("Shutdown", { force: opts.force ?? false }), "Shutdown");
  }
  async reboot(opts: { mode?: machine.RebootRequest_Mode } = {}): Promise<machine.Reboot> {
    return first(await this.machine("Reboot", { mode: opts.mode ?? "DEFAULT" }), "Reboot");
  }

  /** Reset (Talos's): wipe system partitions (default STATE and EPHEMERAL), then reboot or power off. */
  async reset(opts: { graceful?: boolean; reboot?: boolean; labels?: string[] } = {}): Promise<machine.Reset> {
    const parts = (opts.labels ?? []).map((label) => ({ label, wipe: true }));
    return first(
      await this.machine("Reset", {
        graceful: opts.graceful ?? true,
        reboot: opts.reboot ?? false,
        system_partitions_to_wipe: parts,
        user_disks_to_wipe: [],
        mode: "SYSTEM_DISK",
      }),
      "Reset",
    );
  }

  /** storage.StorageService/Disks: the node's block devices. */
  async disks(): Promise<storage.Disks> {
    return first(await this.call("storage.StorageService", "Disks", {}), "Disks");
  }

  async applyConfiguration(opts: {
    data: string | Uint8Array;
    mode?: ApplyMode;
    tryTimeoutMs?: number;
    dryRun?: boolean;
  }): Promise<machine.ApplyConfiguration> {
    const mode = (opts.mode ?? "auto").toUpperCase() as machine.ApplyConfigurationRequest_Mode;
    const data = typeof opts.data === "string" ? Buffer.from(opts.data) : opts.data;
    const timeout = opts.tryTimeoutMs !== undefined ? { seconds: Math.floor(opts.tryTimeoutMs / 1000), nanos: (opts.tryTimeoutMs % 1000) * 1e6 } : null;
    return first(await this.machine("ApplyConfiguration", { data, mode, try_mode_timeout: timeout, dry_run: opts.dryRun ?? false }), "ApplyConfiguration");
  }

  list(root: string, opts: { recurse?: boolean; depth?: number; types?: machine.ListRequest_Type[] } = {}): Stream<machine.FileInfo> {
    return this.stream("machine.MachineService", "List", { root, recurse: opts.recurse ?? false, recursion_depth: opts.depth ?? 0, types: opts.types ?? [] });
  }

  /** A file's bytes, chunk by chunk. */
  read(path: string): Stream<Uint8Array> {
    return mapStream(this.stream("machine.MachineService", "Read", { path }), (d: common.Data) => d.bytes);
  }

  async mounts(): Promise<machine.MountStat[]> {
    return first(await this.machine("Mounts"), "Mounts").stats;
  }
  async memory(): Promise<machine.MemInfo> {
    return first(await this.machine("Memory"), "Memory").meminfo!;
  }
  async loadAvg(): Promise<machine.LoadAvg> {
    return first(await this.machine("LoadAvg"), "LoadAvg");
  }
  async systemStat(): Promise<machine.SystemStat> {
    return first(await this.machine("SystemStat"), "SystemStat");
  }
  async cpuInfo(): Promise<machine.CPUInfo[]> {
    return first(await this.machine("CPUInfo"), "CPUInfo").cpu_info;
  }
  async processes(): Promise<machine.ProcessInfo[]> {
    return first(await this.machine("Processes"), "Processes").processes;
  }
  async networkDeviceStats(): Promise<machine.NetworkDeviceStats> {
    return first(await this.machine("NetworkDeviceStats"), "NetworkDeviceStats");
  }
  async diskStats(): Promise<machine.DiskStats> {
    return first(await this.machine("DiskStats"), "DiskStats");
  }

  /** Arms a delayed power action on the node (held by init, announced in Events). */
  async scheduleShutdown(opts: { at: Date; action?: PowerAction; message?: string }): Promise<void> {
    const action = POWER[opts.action ?? "poweroff"].wire;
    await this.call("minos.machine.MinosService", "ScheduleShutdown", { at: toTimestamp(opts.at), action, message: opts.message ?? "" });
  }
  /** False when nothing was scheduled. */
  async cancelShutdown(): Promise<boolean> {
    return first(await this.call("minos.machine.MinosService", "CancelShutdown", {}), "CancelShutdown").cancelled;
  }
  async scheduledShutdown(): Promise<{ at: Date; action: PowerAction; message: string } | undefined> {
    const s = first(await this.call("minos.machine.MinosService", "ScheduledShutdown", {}), "ScheduledShutdown");
    if (!s.scheduled) return undefined;
    const action = powerActionFromWire(s.action);
    if (!action) throw new Error(`ScheduledShutdown: unknown power action ${JSON.stringify(s.action)}`);
    return { at: fromTimestamp(s.at)!, action, message: s.message };
  }
  /** The node's effective machine config (YAML); for roles below admin its secrets read "REDACTED". */
  async getConfiguration(): Promise<string> {
    return Buffer.from(first(await this.call("minos.machine.MinosService", "GetConfiguration", {}), "GetConfiguration").data).toString("utf8");
  }

  // ---- network (minos extension calls, handlers/network.ts) ----
  async addresses(): Promise<minos.machine.Addresses> {
    return first(await this.call("minos.machine.MinosService", "Addresses", {}), "Addresses");
  }
  async routes(): Promise<minos.machine.Routes> {
    return first(await this.call("minos.machine.MinosService", "Routes", {}), "Routes");
  }
  async resolvers(): Promise<minos.machine.Resolvers> {
    return first(await this.call("minos.machine.MinosService", "Resolvers", {}), "Resolvers");
  }
  async dhcpLeases(): Promise<minos.machine.DhcpLeases> {
    return first(await this.call("minos.machine.MinosService", "DhcpLeases", {}), "DhcpLeases");
  }

  /** grpc.health.v1 status of the whole server. */
  async health(service = ""): Promise<string> {
    return (await this.call("grpc.health.v1.Health", "Check", { service })).status;
  }

  close(): void {
    this.transport.close();
  }
}

export function connect(opts: ConnectOptions): MachineClient {
  return new MachineClient(new Transport(parseEndpoint(opts.endpoint), opts.insecure ? "insecure" : opts.tls, opts.metadata), opts.timeoutMs);
}

export type { machine, minos, common, google, storage };
