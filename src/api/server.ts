// The machine API server inside init: gRPC (grpc-js) on the node socket (full
// access) and, when a CA is configured, on TCP with mutual TLS (role from the
// client certificate's Organization). init calls startMachineApi() in its
// "api" boot phase with its MachineBackend.
//
// Everything here runs in PID 1: no handler's exception may escape (each call
// is wrapped and answered with a status), and a stream whose client went away
// is aborted so its handler unsubscribes.
import * as grpc from "@grpc/grpc-js";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { networkInterfaces } from "node:os";
import type { AuthContext } from "@grpc/grpc-js/build/src/auth-context.js";
import type { MachineBackend } from "../init/backend/contract.ts";
import { authorize, roleFromOrganizations, STATE_DIR, type Role } from "./auth.ts";
import type { CallContext, Sink } from "./handler.ts";
import { createForwarder, impersonatedRole, withForwarding, type Forwarder } from "./forward.ts";
import { healthService } from "./handlers/health.ts";
import { machineService } from "./handlers/machine.ts";
import { minosService } from "./handlers/minos.ts";
import { reflectionV1, reflectionV1alpha } from "./handlers/reflection.ts";
import { timeService } from "./handlers/time.ts";
import { issueServerCert, type CertAndKey } from "./pki/certs.ts";
import { decode, encode, serviceMethods, type MethodInfo, type ServiceName } from "./schema.ts";
import { Code, StatusError, toStatus } from "./status.ts";

export interface MachineApiOptions {
  /** Unix socket, full access (mode 0600): /system/run/machined/machine.sock on a node. */
  socketPath: string;
  /** TCP port for mutual-TLS remote access (50000 on a node); omitted = no TCP listener. 0 picks a free port. */
  tcpPort?: number;
  /** Address the TCP listener binds; all interfaces by default. */
  tcpHost?: string;
  /** Node CA for mutual TLS, PEM. Required with tcpPort. */
  ca?: { cert: string; key: string };
  /** Names the serving certificate carries besides localhost and the node's addresses. */
  certNames?: string[];
  /** Where the node keeps its secrets, closed to non-admin Read ("/system/state"; tests point it elsewhere). */
  stateDir?: string;
}

export interface MachineApi {
  /** The TCP port actually bound (when tcpPort was given). */
  readonly tcpPort?: number;
  close(): Promise<void>;
}

/** Largest request accepted (a machine config is a few KiB); replies may be larger (file chunks are 64 KiB). */
export const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
export const MAX_SEND_BYTES = 16 * 1024 * 1024;
/** Messages a stream may have queued for a slow client before it is ended with RESOURCE_EXHAUSTED. */
export const STREAM_QUEUE_LIMIT = 10_000;

const SERVER_OPTIONS: grpc.ServerOptions = {
  "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
  "grpc.max_send_message_length": MAX_SEND_BYTES,
  // Find dead peers of long-lived streams (logs -f) even when nothing is written.
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  // Nothing serves channelz here; its per-call and per-session bookkeeping
  // (counters, timestamps, a heavier stream handler) cost about a quarter of
  // the server's CPU per Version call (measured ~124 -> ~92 µs).
  "grpc.enable_channelz": 0,
};

type RoleOf = (call: { getAuthContext(): AuthContext | null; metadata: grpc.Metadata }) => Role;

const localRole: RoleOf = () => "os:admin";

/** The TLS listener only accepts verified client certificates; their Organization is the role. */
const certRole: RoleOf = (call) => {
  const subject = call.getAuthContext()?.sslPeerCertificate?.subject as { O?: string | string[] } | undefined;
  const role = impersonatedRole(subject?.O, call.metadata) ?? roleFromOrganizations(subject?.O); // forwarded by a peer: the caller's role
  if (!role) throw new StatusError(Code.PERMISSION_DENIED, "client certificate names no role (Organization os:admin, os:operator or os:reader)");
  return role;
};

type AnyHandler = (...args: never[]) => unknown;
type Impl = Record<string, AnyHandler>;

/** A Sink over a grpc-js writable call: bounded queue, abort on cancel/close. */
function sinkFor<T>(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
): Sink<T> & { fail(e: unknown): void; finish(): void } {
  const controller = new AbortController();
  let ended = false;
  const abort = () => controller.abort();
  call.on("cancelled", abort);
  call.on("close", abort);
  call.on("error", abort);
  return {
    signal: controller.signal,
    push(msg) {
      if (ended || controller.signal.aborted) return false;
      if (call.writableLength >= STREAM_QUEUE_LIMIT) {
        this.fail(new StatusError(Code.RESOURCE_EXHAUSTED, "client is reading too slowly; stream ended"));
        return false;
      }
      call.write(msg);
      return true;
    },
    ready() {
      if (!call.writableNeedDrain || controller.signal.aborted) return Promise.resolve();
      return new Promise<void>((res) => {
        const done = () => {
          call.off("drain", done);
          controller.signal.removeEventListener("abort", done);
          res();
        };
        call.on("drain", done);
        controller.signal.addEventListener("abort", done, { once: true });
      });
    },
    fail(e) {
      if (ended) return;
      ended = true;
      controller.abort();
      if (!call.cancelled) call.emit("error", toStatus(e));
    },
    finish() {
      if (ended) return;
      ended = true;
      if (!call.cancelled) call.end();
      controller.abort();
    },
  };
}

/** Reads a duplex call's requests as an async iterable (ends with the client's half-close or cancel). */
async function* requestsOf(call: grpc.ServerDuplexStream<unknown, unknown>, signal: AbortSignal): AsyncGenerator<unknown> {
  const queue: unknown[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // Backpressure: a client that sends faster than the handler reads (an image upload) waits in TCP, not in this queue.
  call.on("data", (m) => {
    queue.push(m);
    if (queue.length >= 16) call.pause();
    notify();
  });
  call.on("end", () => {
    done = true;
    notify();
  });
  signal.addEventListener("abort", () => {
    done = true;
    notify();
  });
  for (;;) {
    if (queue.length) {
      const m = queue.shift();
      if (queue.length < 4 && call.isPaused()) call.resume();
      yield m;
    } else if (done) return;
    else await new Promise<void>((r) => (wake = r));
  }
}

function definition(service: ServiceName): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of serviceMethods(service)) {
    def[m.name] = {
      path: m.path,
      requestStream: m.clientStream,
      responseStream: m.serverStream,
      requestSerialize: (v: object) => Buffer.from(encode(m.requestType, v)),
      requestDeserialize: (b: Buffer) => decode<object>(m.requestType, b),
      responseSerialize: (v: object) => Buffer.from(encode(m.responseType, v)),
      responseDeserialize: (b: Buffer) => decode<object>(m.responseType, b),
    };
  }
  return def as grpc.ServiceDefinition;
}

/** Wraps one transport-free handler as a grpc-js handler: role check, context, error mapping. */
function adapt(m: MethodInfo, handler: AnyHandler, roleOf: RoleOf, hostname: () => string): grpc.UntypedHandleCall {
  const context = (call: { getAuthContext(): AuthContext | null; metadata: grpc.Metadata }): CallContext => {
    const role = roleOf(call);
    authorize(role, m.path);
    return { role, hostname: safeHostname(hostname) };
  };
  if (!m.serverStream) {
    return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      (async () => (handler as (r: unknown, c: CallContext) => unknown)(call.request, context(call)))().then(
        (res) => callback(null, res),
        (e) => callback(toStatus(e)),
      );
    };
  }
  if (!m.clientStream) {
    return (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const sink = sinkFor(call);
      (async () => (handler as (r: unknown, c: CallContext, s: Sink<unknown>) => Promise<void>)(call.request, context(call), sink))().then(
        () => sink.finish(),
        (e) => sink.fail(e),
      );
    };
  }
  return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    const sink = sinkFor(call);
    (async () =>
      (handler as (r: AsyncIterable<unknown>, c: CallContext, s: Sink<unknown>) => Promise<void>)(requestsOf(call, sink.signal), context(call), sink))().then(
      () => sink.finish(),
      (e) => sink.fail(e),
    );
  };
}

function safeHostname(hostname: () => string): string {
  try {
    return hostname();
  } catch {
    return "";
  }
}

/** Every service the server registers (test/api.test.ts checks each method has a role in auth.ts). */
export const SERVED_SERVICES = [
  "machine.MachineService",
  "minos.machine.MinosService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "time.TimeService",
] as const satisfies readonly ServiceName[];

function buildServer(backend: MachineBackend, roleOf: RoleOf, stateDir: string, forwarder?: Forwarder): grpc.Server {
  const server = new grpc.Server(SERVER_OPTIONS);
  const impls: { [S in (typeof SERVED_SERVICES)[number]]: Impl } = {
    "machine.MachineService": machineService(backend, { stateDir }) as unknown as Impl,
    "minos.machine.MinosService": minosService(backend) as unknown as Impl,
    "grpc.health.v1.Health": healthService() as unknown as Impl,
    "grpc.reflection.v1.ServerReflection": reflectionV1() as unknown as Impl,
    "grpc.reflection.v1alpha.ServerReflection": reflectionV1alpha() as unknown as Impl,
    "time.TimeService": timeService(backend) as unknown as Impl,
  };
  for (const service of SERVED_SERVICES) {
    const impl = impls[service];
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const m of serviceMethods(service))
      handlers[m.name] = withForwarding(
        m,
        adapt(m, impl[m.name]!, roleOf, () => backend.hostname()),
        roleOf,
        forwarder,
      );
    server.addService(definition(service), handlers);
  }
  return server;
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((res, rej) => server.bindAsync(address, creds, (e, port) => (e ? rej(e) : res(port))));
}

/** Addresses the node may be dialled on, for the serving certificate's SANs. */
function localAddresses(): string[] {
  const out = new Set(["127.0.0.1", "::1"]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ""));
  return [...out];
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((res) => {
    // Streams that follow (logs -f, events) never end on their own: give calls a moment, then cut them.
    const timer = setTimeout(() => {
      server.forceShutdown();
      res();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      res();
    });
  });
}

export async function startMachineApi(backend: MachineBackend, opts: MachineApiOptions): Promise<MachineApi> {
  const servers: grpc.Server[] = [];
  try {
    // The socket directory is root-only, so the window between bind and chmod exposes nothing.
    mkdirSync(dirname(opts.socketPath), { recursive: true, mode: 0o700 });
    rmSync(opts.socketPath, { force: true }); // a stale socket from a previous boot
    const stateDir = opts.stateDir ?? STATE_DIR;
    // Calls naming other nodes (-n) are forwarded with a certificate the node issues itself (src/api/forward.ts).
    const forwarder = opts.ca?.key ? createForwarder(opts.ca, () => safeHostname(() => backend.hostname())) : undefined;
    const local = buildServer(backend, localRole, stateDir, forwarder);
    servers.push(local);
    await bind(local, `unix:${opts.socketPath}`, grpc.ServerCredentials.createInsecure());
    chmodSync(opts.socketPath, 0o600);

    let tcpPort: number | undefined;
    if (opts.tcpPort !== undefined) {
      if (!opts.ca) throw new Error("machine API: a TCP listener needs the node CA (machine.ca)");
      const hostnames = ["localhost", safeHostname(() => backend.hostname()), ...(opts.certNames ?? [])].filter(Boolean);
      const serving: CertAndKey = issueServerCert(opts.ca, [...new Set(hostnames)], localAddresses());
      const remote = buildServer(backend, certRole, stateDir, forwarder);
      servers.push(remote);
      const creds = grpc.ServerCredentials.createSsl(
        Buffer.from(opts.ca.cert),
        [{ cert_chain: Buffer.from(serving.cert), private_key: Buffer.from(serving.key) }],
        true,
      );
      const host = opts.tcpHost ?? "0.0.0.0";
      tcpPort = await bind(remote, `${host.includes(":") ? `[${host}]` : host}:${opts.tcpPort}`, creds);
    }
    return {
      tcpPort,
      async close() {
        await Promise.all(servers.map(shutdown));
        rmSync(opts.socketPath, { force: true });
      },
    };
  } catch (e) {
    for (const s of servers) s.forceShutdown();
    throw e;
  }
}
