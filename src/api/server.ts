// The machine API server inside init: gRPC (grpc-js) on the node socket (full
// access) and, when a CA is configured, on TCP with mutual TLS (role from the
// client certificate's Organization). init calls startMachineApi() in its
// "api" boot phase with its MachineBackend.
//
// Everything here runs in PID 1: no handler's exception may escape (each call
// is wrapped and answered with a status), and a stream whose client went away
// is aborted so its handler unsubscribes.
import * as grpc from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
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
import { storageService } from "./handlers/storage.ts";
import { reflectionV1, reflectionV1alpha } from "./handlers/reflection.ts";
import { timeService } from "./handlers/time.ts";
import { issueServerCert, type CertAndKey } from "./pki/certs.ts";
import { decode, encode, serviceMethods, type MethodInfo, type ServiceName } from "./schema.ts";
import { Code, StatusError, toStatus } from "./status.ts";
import { assertKnownEnums } from "./enums.ts";
import { ConnectionGuard, type ConnectionLimits } from "./connections.ts";
import { StreamGate, type StreamLimits, type StreamOwner } from "./streams.ts";
import type { Msg } from "./wire.ts";

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
  /** Addresses it carries besides those the node has now (static ones the network phase configures after the API starts). */
  certIps?: string[];
  /** Where the node keeps its secrets, closed to non-admin Read ("/system/state"; tests point it elsewhere). */
  stateDir?: string;
  /** Stream bounds (streams.ts STREAM_LIMITS on a node; tests make them small). */
  streamLimits?: StreamLimits;
  /** Connection bounds (connections.ts CONNECTION_LIMITS on a node). */
  connectionLimits?: ConnectionLimits;
}

export interface MachineApiStats {
  /** Open connections (both listeners) and server streams, and the stream bytes written but not yet flushed. */
  connections: number;
  streams: number;
  bufferedBytes: number;
  /** Connections closed for being over the cap, and for sending no request in time. */
  refusedConnections: number;
  idleConnectionsClosed: number;
  /** Listening sockets whose backlog was raised past Bun's 512. */
  raisedBacklogs: number;
}

export interface MachineApi {
  /** The TCP port actually bound (when tcpPort was given). */
  readonly tcpPort?: number;
  /** What the server holds now (for tests and diagnostics). */
  stats(): MachineApiStats;
  close(): Promise<void>;
}

/** Largest request accepted (a machine config is a few KiB); replies may be larger (file chunks are 64 KiB). */
export const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
export const MAX_SEND_BYTES = 16 * 1024 * 1024;

const SERVER_OPTIONS: grpc.ServerOptions = {
  "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
  "grpc.max_send_message_length": MAX_SEND_BYTES,
  // Find dead peers of long-lived streams (logs -f) even when nothing is written.
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  // A connection with no call for 5 minutes is closed (GOAWAY; clients
  // reconnect): idle sockets do not hold connection slots (connections.ts) forever.
  "grpc.max_connection_idle_ms": 5 * 60_000,
  // Nothing serves channelz here; its per-call and per-session bookkeeping
  // (counters, timestamps, a heavier stream handler) cost about a quarter of
  // the server's CPU per Version call (measured ~124 -> ~92 µs).
  "grpc.enable_channelz": 0,
  // HTTP/2 streams (calls of any kind) one connection may have open at once;
  // Bun resets those past it. Server streams have their own, lower caps
  // (streams.ts); this bounds calls that send headers and never a request.
  "grpc.max_concurrent_streams": 100,
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

type WritableCall = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** The parts of node:http2's stream this file uses (grpc-js keeps it as its base call's `stream`). */
interface H2Stream {
  readonly closed: boolean;
  readonly session?: { destroy(): void; readonly destroyed: boolean };
  close(code?: number): void;
  once(event: "close", fn: () => void): unknown;
}

/**
 * The HTTP/2 stream under a grpc-js call: grpc-js 1.14 hands handlers a call
 * whose `call` (with no server interceptors) is its base call, holding the
 * node:http2 stream. Reaching in is the only way to tell connections apart on
 * the node socket and to reset a stream whose status cannot be delivered;
 * test/unit/api/streams.test.ts fails if a grpc-js upgrade moves it.
 */
export function h2StreamOf(call: object): H2Stream | undefined {
  const s = (call as { call?: { stream?: unknown } }).call?.stream as Partial<H2Stream> | undefined;
  return s && typeof s.close === "function" && typeof s.once === "function" ? (s as H2Stream) : undefined;
}

const connectionIds = new WeakMap<object, string>();
let nextConnectionId = 1;

/** A stable name for the connection (HTTP/2 session) a call came in on. */
function connectionOf(h2: H2Stream | undefined): string {
  const session = h2?.session;
  if (!session) return "unknown";
  let id = connectionIds.get(session);
  if (!id) connectionIds.set(session, (id = `conn-${nextConnectionId++}`));
  return id;
}

/** Encodings of message objects handed to many streams at once (a log line, an event, handlers/machine.ts). */
const encodings = new WeakMap<object, { type: string; bytes: Uint8Array }>();

function encodedOnce(type: string, msg: object): Uint8Array {
  const hit = encodings.get(msg);
  if (hit?.type === type) return hit.bytes;
  const bytes = encode(type, msg);
  encodings.set(msg, { type, bytes });
  return bytes;
}

/** What one queued message costs besides its bytes: the gRPC frame header, grpc-js's and http2's bookkeeping. */
const MESSAGE_OVERHEAD_BYTES = 256;

type OwnerOf = (call: WritableCall, connection: string) => StreamOwner;

/** The node socket: each connection is its own client (all are root). */
const localOwner: OwnerOf = (_call, connection) => ({ connection, identity: connection });

/** Mutual TLS: one identity per certificate (its CN and Organization), whatever the connections. */
const certOwner: OwnerOf = (call, connection) => {
  const subject = call.getAuthContext()?.sslPeerCertificate?.subject as { CN?: string | string[]; O?: string | string[] } | undefined;
  const part = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(",") : (v ?? ""));
  return { connection, identity: `certificate CN=${part(subject?.CN)} O=${part(subject?.O)}` };
};

/**
 * A Sink over a grpc-js writable call. Messages are encoded here, so their
 * size is known: the bytes written and not yet flushed (grpc-js calls back
 * when HTTP/2 took a message) are counted against the stream's share and the
 * gate's total, and a stream past either is ended with RESOURCE_EXHAUSTED.
 * The bytes are given back when the HTTP/2 stream closes, which is also when
 * node:http2 drops whatever it still held for it.
 */
function sinkFor<T>(call: WritableCall, m: MethodInfo, gate: StreamGate, h2: H2Stream | undefined): Sink<T> & { fail(e: unknown): void; finish(): void } {
  const controller = new AbortController();
  const limits = gate.limits;
  let ended = false;
  let pending = 0;
  let closed = false;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };
  const abort = () => {
    controller.abort();
    wake();
  };
  const onClosed = () => {
    if (closed) return;
    closed = true;
    gate.closed(pending);
    pending = 0;
    abort();
  };
  call.on("cancelled", abort);
  call.on("error", abort);
  if (h2) h2.once("close", onClosed);
  else call.on("close", onClosed);
  const sink = {
    signal: controller.signal,
    push(msg: Msg<T>): boolean {
      if (ended || controller.signal.aborted) return false;
      const bytes = encodedOnce(m.responseType, msg as object);
      const n = bytes.length + MESSAGE_OVERHEAD_BYTES;
      // One message always fits an empty stream (a 64 KiB chunk, a long line).
      if (pending > 0 && pending + n > limits.perStreamBytes) {
        sink.fail(new StatusError(Code.RESOURCE_EXHAUSTED, `client is reading too slowly (${limits.perStreamBytes} bytes unread); stream ended`));
        return false;
      }
      if (!gate.take(n)) {
        sink.fail(new StatusError(Code.RESOURCE_EXHAUSTED, "the node is holding too much unread stream data; stream ended"));
        return false;
      }
      pending += n;
      call.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), () => {
        if (closed) return;
        pending -= n;
        gate.give(n);
        if (pending < limits.lowWaterBytes) wake();
      });
      return true;
    },
    ready(): Promise<void> {
      if (pending < limits.lowWaterBytes || controller.signal.aborted) return Promise.resolve();
      return new Promise<void>((res) => waiters.push(res));
    },
    fail(e: unknown): void {
      if (ended) return;
      ended = true;
      abort();
      if (call.cancelled || closed) return;
      call.emit("error", toStatus(e));
      // The status queues behind what the client has not read: a client that
      // reads nothing would keep it all. Reset the stream if it is still open;
      // if even the reset cannot go out (the connection takes no bytes at
      // all), end the connection: that is what frees what it holds.
      if (h2 && e instanceof StatusError && e.code === Code.RESOURCE_EXHAUSTED) {
        const stream = h2;
        setTimeout(() => {
          if (stream.closed) return;
          stream.close(http2.constants.NGHTTP2_CANCEL);
          setTimeout(() => {
            if (!stream.closed && stream.session && !stream.session.destroyed) stream.session.destroy();
          }, limits.resetAfterMs);
        }, limits.resetAfterMs);
      }
    },
    finish(): void {
      if (ended) return;
      ended = true;
      if (!call.cancelled) call.end();
      abort();
    },
  };
  return sink;
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
      // Stream messages arrive already encoded (sinkFor counts their bytes); unary replies as objects.
      responseSerialize: (v: object) => (Buffer.isBuffer(v) ? v : Buffer.from(encode(m.responseType, v))),
      responseDeserialize: (b: Buffer) => decode<object>(m.responseType, b),
    };
  }
  return def as grpc.ServiceDefinition;
}

/** What every handler of one server shares: who the caller is, the node's hostname, the stream gate. */
interface Served {
  roleOf: RoleOf;
  ownerOf: OwnerOf;
  hostname: () => string;
  gate: StreamGate;
}

/**
 * Starts a server stream: admits it at the gate (or answers RESOURCE_EXHAUSTED
 * without running the handler), gives the slot back when its HTTP/2 stream
 * (or, failing that, the call) closes.
 */
function openStream<T>(call: WritableCall, m: MethodInfo, served: Served, run: (sink: Sink<T>) => Promise<void>): void {
  const h2 = h2StreamOf(call);
  const sink = sinkFor<T>(call, m, served.gate, h2);
  let release: () => void;
  try {
    release = served.gate.admit(served.ownerOf(call, connectionOf(h2)));
  } catch (e) {
    sink.fail(e);
    return;
  }
  if (h2) h2.once("close", release);
  else call.on("close", release);
  run(sink).then(
    () => sink.finish(),
    (e) => sink.fail(e),
  );
}

/** Wraps one transport-free handler as a grpc-js handler: role check, enum check, context, error mapping. */
function adapt(m: MethodInfo, handler: AnyHandler, served: Served): grpc.UntypedHandleCall {
  const context = (call: { getAuthContext(): AuthContext | null; metadata: grpc.Metadata }): CallContext => {
    const role = served.roleOf(call);
    authorize(role, m.path);
    return { role, hostname: safeHostname(served.hostname), actorId: randomUUID() };
  };
  if (!m.serverStream && m.clientStream) {
    // A stream of requests, one reply (EtcdRecover's upload).
    return (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const gone = new AbortController();
      call.on("cancelled", () => gone.abort());
      (async () => {
        const ctx = context(call);
        const requests = (async function* () {
          for await (const r of requestsOf(call as unknown as grpc.ServerDuplexStream<unknown, unknown>, gone.signal)) {
            assertKnownEnums(m.requestType, r);
            yield r;
          }
        })();
        return (handler as (r: AsyncIterable<unknown>, c: CallContext) => unknown)(requests, { ...ctx, signal: gone.signal });
      })().then(
        (res) => callback(null, res),
        (e) => callback(toStatus(e)),
      );
    };
  }
  if (!m.serverStream) {
    return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      // grpc-js emits "cancelled" for a client's RST_STREAM and for a passed deadline alike.
      const gone = new AbortController();
      call.on("cancelled", () => gone.abort());
      (async () => {
        const ctx = context(call);
        assertKnownEnums(m.requestType, call.request);
        return (handler as (r: unknown, c: CallContext) => unknown)(call.request, { ...ctx, signal: gone.signal });
      })().then(
        (res) => callback(null, res),
        (e) => callback(toStatus(e)),
      );
    };
  }
  if (!m.clientStream) {
    return (call: grpc.ServerWritableStream<unknown, unknown>) => {
      openStream(call, m, served, async (sink) => {
        const ctx = context(call);
        assertKnownEnums(m.requestType, call.request);
        await (handler as (r: unknown, c: CallContext, s: Sink<unknown>) => Promise<void>)(call.request, ctx, sink);
      });
    };
  }
  return (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    openStream(call, m, served, async (sink) => {
      const ctx = context(call);
      const requests = (async function* () {
        for await (const r of requestsOf(call, sink.signal)) {
          assertKnownEnums(m.requestType, r);
          yield r;
        }
      })();
      await (handler as (r: AsyncIterable<unknown>, c: CallContext, s: Sink<unknown>) => Promise<void>)(requests, ctx, sink);
    });
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
  "storage.StorageService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "time.TimeService",
] as const satisfies readonly ServiceName[];

function buildServer(backend: MachineBackend, roleOf: RoleOf, ownerOf: OwnerOf, gate: StreamGate, stateDir: string, forwarder?: Forwarder): grpc.Server {
  const server = new grpc.Server(SERVER_OPTIONS);
  const impls: { [S in (typeof SERVED_SERVICES)[number]]: Impl } = {
    "machine.MachineService": machineService(backend, { stateDir }) as unknown as Impl,
    "minos.machine.MinosService": minosService(backend) as unknown as Impl,
    "storage.StorageService": storageService(backend) as unknown as Impl,
    "grpc.health.v1.Health": healthService() as unknown as Impl,
    "grpc.reflection.v1.ServerReflection": reflectionV1() as unknown as Impl,
    "grpc.reflection.v1alpha.ServerReflection": reflectionV1alpha() as unknown as Impl,
    "time.TimeService": timeService(backend) as unknown as Impl,
  };
  const served: Served = { roleOf, ownerOf, gate, hostname: () => backend.hostname() };
  for (const service of SERVED_SERVICES) {
    const impl = impls[service];
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const m of serviceMethods(service)) handlers[m.name] = withForwarding(m, adapt(m, impl[m.name]!, served), roleOf, forwarder);
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
    const gate = new StreamGate(opts.streamLimits);
    const guard = new ConnectionGuard(opts.connectionLimits);
    const local = buildServer(backend, localRole, localOwner, gate, stateDir, forwarder);
    servers.push(local);
    guard.watch(local);
    await bind(local, `unix:${opts.socketPath}`, grpc.ServerCredentials.createInsecure());
    chmodSync(opts.socketPath, 0o600);

    let tcpPort: number | undefined;
    if (opts.tcpPort !== undefined) {
      if (!opts.ca) throw new Error("machine API: a TCP listener needs the node CA (machine.ca)");
      const hostnames = ["localhost", safeHostname(() => backend.hostname()), ...(opts.certNames ?? [])].filter(Boolean);
      const serving: CertAndKey = issueServerCert(opts.ca, [...new Set(hostnames)], [...new Set([...localAddresses(), ...(opts.certIps ?? [])])]);
      const remote = buildServer(backend, certRole, certOwner, gate, stateDir, forwarder);
      servers.push(remote);
      guard.watch(remote);
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
      stats: () => ({
        connections: guard.open,
        streams: gate.openStreams,
        bufferedBytes: gate.bufferedBytes,
        refusedConnections: guard.refused,
        idleConnectionsClosed: guard.closedIdle,
        raisedBacklogs: guard.raisedBacklogs,
      }),
      async close() {
        await Promise.all(servers.map(shutdown));
        gate.close();
        rmSync(opts.socketPath, { force: true });
      },
    };
  } catch (e) {
    for (const s of servers) s.forceShutdown();
    throw e;
  }
}
