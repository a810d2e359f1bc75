// The one in-memory MachineBackend of the tests, for the machine API without
// booting a node: services with states, health and log rings, events, power
// actions recorded instead of performed, and a YAML config with validation
// (unknown keys and bad YAML -> InvalidArgumentError, stored config
// unchanged). dashboardBackend() presets it with what the dashboard shows.
import type { DiskInfo, ResetOptions } from "../../src/node/storage.ts";
import { parse, stringify } from "yaml";
import type { ApplyMode, ApplyResult } from "../../src/node/config.ts";
import type { MachineBackend } from "../../src/init/backend/contract.ts";
import type { NodeEvent } from "../../src/node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../src/node/power.ts";
import type { ServiceInfo, ServiceState } from "../../src/node/services.ts";
import type { TimeAnswer, TimeSyncInfo } from "../../src/node/time.ts";
import type { VersionInfo } from "../../src/node/version.ts";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../src/lib/errors.ts";
import { LogRing, type Unsubscribe } from "../../src/lib/ring.ts";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILE_DESCRIPTOR_SET } from "../../src/api/gen/reflection.ts";
import { generateCa, issueClientCert, type CertAndKey } from "../../src/api/pki/certs.ts";
import { startMachineApi, type MachineApi } from "../../src/api/server.ts";
import { redactConfig } from "../../src/api/redact.ts";

const KNOWN_KEYS: Record<string, string[]> = { machine: ["hostname", "sysctls", "env", "ca", "install"], version: [] };

export class FakeBackend implements MachineBackend {
  host = "fake-node";
  sha = "abc1234";
  services = new Map<string, { state: ServiceState; ring: LogRing; healthMessage?: string }>();
  events: NodeEvent[] = [];
  listeners = new Set<(e: NodeEvent) => void>();
  powerActions: PowerAction[] = [];
  scheduled: ScheduledShutdown | undefined;
  busy = false;
  config = "version: v1alpha1\nmachine:\n  hostname: fake-node\n";
  private nextId = 1;

  constructor() {
    for (const id of ["containerd", "udevd", "machined"]) {
      const ring = new LogRing(100);
      ring.push(`${id}: started`);
      ring.push(`${id}: ready`);
      this.services.set(id, { state: "Running", ring });
    }
  }

  emit(e: Omit<NodeEvent, "id" | "ts"> & { ts?: Date }): NodeEvent {
    const ev = { ...e, id: String(this.nextId++), ts: e.ts ?? new Date() } as NodeEvent;
    this.events.push(ev);
    for (const l of this.listeners) l(ev);
    return ev;
  }

  hostname(): string {
    return this.host;
  }
  version(): VersionInfo {
    return { tag: "v0.1.0", sha: this.sha, built: "2026-11-27T00:00:00Z", goVersion: `bun ${Bun.version}`, os: "linux", arch: "amd64" };
  }
  listServices(): ServiceInfo[] {
    return [...this.services].map(([id, s]) => ({
      id,
      state: s.state,
      events: [{ msg: "Service started", state: s.state, ts: new Date(0) }],
      health: { unknown: false, healthy: s.state === "Running", lastMessage: s.healthMessage ?? "", lastChange: new Date(0) },
    }));
  }
  private svc(id: string) {
    const s = this.services.get(id);
    if (!s) throw new NotFoundError(`service "${id}" not found`);
    return s;
  }
  private setState(id: string, state: ServiceState): void {
    this.svc(id).state = state;
    this.emit({
      kind: "service",
      service: id,
      state,
      message: `${state}`,
      health: { unknown: true, healthy: false, lastMessage: "", lastChange: new Date() },
    } as NodeEvent);
  }
  async startService(id: string): Promise<string> {
    this.setState(id, "Running");
    return `Service "${id}" started`;
  }
  async stopService(id: string): Promise<string> {
    this.setState(id, "Finished");
    return `Service "${id}" stopped`;
  }
  async restartService(id: string): Promise<string> {
    this.setState(id, "Running");
    return `Service "${id}" restarted`;
  }
  /** machined's own log when it is not one of the services (dashboardBackend). */
  machinedLog: LogRing | undefined;
  logs(id: string): LogRing | undefined {
    return id === "machined" && this.machinedLog ? this.machinedLog : this.services.get(id)?.ring;
  }
  eventHistory(): NodeEvent[] {
    return this.events.slice();
  }
  subscribeEvents(fn: (e: NodeEvent) => void): Unsubscribe {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  powerAction(action: PowerAction): void {
    if (this.busy) throw new FailedPreconditionError("a sequence is already running: boot");
    this.powerActions.push(action);
    this.emit({ kind: "sequence", sequence: action === "reboot" ? "reboot" : "shutdown", action: "start" } as NodeEvent);
  }
  scheduleShutdown(s: ScheduledShutdown): void {
    this.scheduled = s;
    this.emit({ kind: "shutdown-scheduled", action: s.action, at: s.at, message: s.message } as NodeEvent);
  }
  cancelScheduledShutdown(): boolean {
    const had = this.scheduled !== undefined;
    this.scheduled = undefined;
    if (had) this.emit({ kind: "shutdown-cancelled", message: "cancelled" } as NodeEvent);
    return had;
  }
  scheduledShutdown(): ScheduledShutdown | undefined {
    return this.scheduled;
  }
  configYaml(): string {
    return this.config;
  }
  redactedConfigYaml(): string {
    return redactConfig(this.config);
  }
  /** What Time answers: the node's clock and the server's, as set by a test. */
  timeAnswer: TimeAnswer | undefined;
  timeSync(): TimeSyncInfo | undefined {
    return this.timeAnswer
      ? { enabled: true, synced: true, servers: [this.timeAnswer.server], server: this.timeAnswer.server, adjuster: "log-only", offsetMs: 0 }
      : undefined;
  }
  async queryTime(server?: string): Promise<TimeAnswer> {
    if (!this.timeAnswer) throw new FailedPreconditionError("no time server");
    return { ...this.timeAnswer, server: server || this.timeAnswer.server };
  }
  resets: ResetOptions[] = [];
  fakeDisks: DiskInfo[] = [];

  reset(opts: ResetOptions): void {
    if (this.busy) throw new FailedPreconditionError("sequence shutdown is running");
    this.resets.push(opts);
  }

  async disks(): Promise<DiskInfo[]> {
    return this.fakeDisks;
  }

  async applyConfiguration(data: string | Uint8Array, mode: ApplyMode, _tryTimeoutMs?: number): Promise<ApplyResult> {
    const yaml = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
    let doc: unknown;
    try {
      doc = parse(yaml);
    } catch (e) {
      throw new InvalidArgumentError(`config: invalid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    if (typeof doc !== "object" || doc === null) throw new InvalidArgumentError("config: not a mapping");
    for (const [k, v] of Object.entries(doc)) {
      if (!(k in KNOWN_KEYS)) throw new InvalidArgumentError(`config: unknown key "${k}"`);
      if (v && typeof v === "object")
        for (const sub of Object.keys(v)) if (!KNOWN_KEYS[k]!.includes(sub)) throw new InvalidArgumentError(`config: unknown key "${k}.${sub}"`);
    }
    this.config = stringify(doc);
    const hostname = (doc as { machine?: { hostname?: string } }).machine?.hostname;
    if (hostname && mode !== "reboot") this.host = hostname;
    this.emit({ kind: "config", message: "config applied" } as NodeEvent);
    return { mode, details: mode === "no_reboot" ? "applied live: hostname" : "applied; reboot scheduled", needsReboot: [], warnings: [] };
  }
}

/**
 * A FakeBackend as the dashboard tests see it: containerd and udevd Running and
 * healthy, the kubelet Waiting on a failing probe, 30 lines in machined's log,
 * a boot sequence and a shutdown scheduled in 10 minutes.
 */
export function dashboardBackend(hostname = "dash-node"): FakeBackend {
  const b = new FakeBackend();
  const t = new Date();
  b.host = hostname;
  b.sha = "0123456789abcdef"; // the dashboard shows 7 of them
  b.services.clear();
  const log = new LogRing(100);
  for (let i = 1; i <= 30; i++) log.push(`[minos] boot step ${i} done`);
  b.services.set("containerd", { state: "Running", ring: new LogRing(10), healthMessage: "Health check successful" });
  b.services.set("udevd", { state: "Running", ring: new LogRing(10), healthMessage: "Health check successful" });
  b.services.set("kubelet", { state: "Waiting", ring: new LogRing(10), healthMessage: "probe failed" });
  b.machinedLog = log;
  b.emit({ kind: "sequence", sequence: "boot", action: "start", ts: t } as NodeEvent);
  b.emit({ kind: "sequence", sequence: "boot", action: "stop", ts: t } as NodeEvent);
  b.scheduleShutdown({ action: "poweroff", at: new Date(t.getTime() + 600_000), message: "maintenance" });
  b.config = `version: v1alpha1\nmachine:\n  network:\n    hostname: ${hostname}\n`;
  return b;
}

// --- Fixture: the machine API server in-process on a temp unix socket and on
// loopback TCP with mutual TLS, over a FakeBackend; plus a raw grpc-js client
// built by @grpc/proto-loader from the generated FileDescriptorSet (independent
// of src/api's own encoder, so it checks the wire, not ourselves).
export interface ApiFixture {
  dir: string;
  socketPath: string;
  tcpPort: number;
  ca: CertAndKey;
  backend: FakeBackend;
  api: MachineApi;
  close(): Promise<void>;
}

export async function startFixture(): Promise<ApiFixture> {
  const dir = mkdtempSync(join(tmpdir(), "minos-api-"));
  const socketPath = join(dir, "run", "machine.sock");
  const backend = new FakeBackend();
  const ca = generateCa();
  const api = await startMachineApi(backend, { socketPath, tcpPort: 0, tcpHost: "127.0.0.1", ca });
  return {
    dir,
    socketPath,
    tcpPort: api.tcpPort!,
    ca,
    backend,
    api,
    async close() {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pkg = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(FILE_DESCRIPTOR_SET, "base64"), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(pkg) as unknown as Record<string, Record<string, Record<string, grpc.ServiceClientConstructor>>>;

/** Untyped raw client calls, promise-shaped, for tests. */
export interface RawClient {
  unary(method: string, req?: object, meta?: grpc.Metadata): Promise<any>;
  stream(method: string, req?: object): grpc.ClientReadableStream<any>;
  collect(method: string, req?: object): Promise<any[]>;
  close(): void;
  client: grpc.Client;
}

function wrap(client: grpc.Client): RawClient {
  const c = client as unknown as Record<string, (...args: unknown[]) => any>;
  return {
    client,
    unary: (method, req = {}) =>
      new Promise((res, rej) =>
        c[method]!.call(client, req, { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null, r: unknown) => (e ? rej(e) : res(r))),
      ),
    stream: (method, req = {}) => c[method]!.call(client, req),
    collect: (method, req = {}) =>
      new Promise((res, rej) => {
        const out: any[] = [];
        const s = c[method]!.call(client, req) as grpc.ClientReadableStream<any>;
        s.on("data", (m) => out.push(m));
        s.on("error", rej);
        s.on("end", () => res(out));
      }),
    close: () => client.close(),
  };
}

export type ServiceKey =
  | "machine.MachineService"
  | "minos.machine.MinosService"
  | "grpc.health.v1.Health"
  | "grpc.reflection.v1.ServerReflection"
  | "grpc.reflection.v1alpha.ServerReflection";

function ctor(service: ServiceKey): grpc.ServiceClientConstructor {
  const parts = service.split(".");
  let node: any = loaded;
  for (const p of parts) node = node[p];
  return node as grpc.ServiceClientConstructor;
}

export function rawLocal(f: ApiFixture, service: ServiceKey = "machine.MachineService"): RawClient {
  return wrap(new (ctor(service))(`unix:${f.socketPath}`, grpc.credentials.createInsecure()));
}

/** A mutual-TLS client on loopback. cert undefined: no client certificate at all. */
export function rawRemote(f: ApiFixture, cert: CertAndKey | undefined, service: ServiceKey = "machine.MachineService", ca = f.ca.cert): RawClient {
  const creds = cert ? grpc.credentials.createSsl(Buffer.from(ca), Buffer.from(cert.key), Buffer.from(cert.cert)) : grpc.credentials.createSsl(Buffer.from(ca));
  // Bun's TLS refuses an IP address as SNI; the serving certificate names localhost.
  return wrap(new (ctor(service))(`127.0.0.1:${f.tcpPort}`, creds, { "grpc.ssl_target_name_override": "localhost" }));
}

export function certFor(f: ApiFixture, role: string): CertAndKey {
  return issueClientCert(f.ca, role, `test-${role}`);
}
