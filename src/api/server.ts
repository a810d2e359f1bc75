// The machine API server inside init: gRPC (our own server on node:http2,
// grpc-server.ts) on the node socket (full access) and, when a CA is
// configured, on TCP with mutual TLS (role from the client certificate's
// Organization). init calls startMachineApi() in its "api" boot phase with
// its MachineBackend.
//
// Everything here runs in PID 1: no handler's exception may escape (each call
// is wrapped and answered with a status), and a stream whose client went away
// is aborted so its handler unsubscribes.
import { osLib } from "../lib/node-libs.ts";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { MachineBackend } from "../init/backend/contract.ts";
import { authorize, roleFromOrganizations, STATE_DIR, type Role } from "./auth.ts";
import type { CallContext, Sink } from "./handler.ts";
import { createForwarder, impersonatedRole, withForwarding, type Forwarder } from "./forward.ts";
import { BusyCollector, type BusyCollectOptions } from "../lib/busy-collect.ts";
import { IdleTrim, type IdleTrimOptions } from "../lib/idle-trim.ts";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type GrpcServerOptions, type MethodHandler, type ServerCall } from "./grpc-server.ts";
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
import { CANCEL } from "./h2/frames.ts";
import { StreamGate, type StreamLimits, type StreamOwner } from "./streams.ts";
import type { Msg } from "./wire.ts";

export interface MachineApiOptions {
  /** Memory given back after a burst of calls (src/lib/idle-trim.ts); false: never. */
  idleTrim?: IdleTrimOptions | false;
  /** A full collection every so many calls under load (src/lib/busy-collect.ts); false: never. */
  busyCollect?: BusyCollectOptions | false;
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
  /** Times memory was given back after a burst of calls (src/lib/idle-trim.ts). */
  idleTrims: number;
  /** Full collections run under load (src/lib/busy-collect.ts), and the longest in ms. */
  busyCollections: number;
  longestCollectMs: number;
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

const SERVER_OPTIONS: GrpcServerOptions = {
  ...GRPC_SERVER_DEFAULTS,
  maxReceiveBytes: MAX_RECEIVE_BYTES,
  maxSendBytes: MAX_SEND_BYTES,
  // Find dead peers of long-lived streams (logs -f) even when nothing is written.
  keepaliveMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  // A connection with no call for 5 minutes is closed (GOAWAY; clients
  // reconnect): idle sockets do not hold connection slots (connections.ts) forever.
  idleMs: 5 * 60_000,
  // HTTP/2 streams (calls of any kind) one connection may have open at once;
  // Bun resets those past it. Server streams have their own, lower caps
  // (streams.ts); this bounds calls that send headers and never a request.
  maxConcurrentStreams: 100,
};

type RoleOf = (call: ServerCall) => Role;

const localRole: RoleOf = () => "os:admin";

/** The TLS listener only accepts verified client certificates; their Organization is the role. */
const certRole: RoleOf = (call) => {
  const subject = call.peerSubject();
  const role = impersonatedRole(subject?.O, call.metadata) ?? roleFromOrganizations(subject?.O); // forwarded by a peer: the caller's role
  if (!role) throw new StatusError(Code.PERMISSION_DENIED, "client certificate names no role (Organization os:admin, os:operator or os:reader)");
  return role;
};

type AnyHandler = (...args: never[]) => unknown;
type Impl = Record<string, AnyHandler>;

/** Encodings of message objects handed to many streams at once (a log line, an event, handlers/machine.ts). */
const encodings = new WeakMap<object, { type: string; bytes: Uint8Array }>();

function encodedOnce(type: string, msg: object): Uint8Array {
  const hit = encodings.get(msg);
  if (hit?.type === type) return hit.bytes;
  const bytes = encode(type, msg);
  encodings.set(msg, { type, bytes });
  return bytes;
}

/** What one queued message costs besides its bytes: the gRPC frame header, the HTTP/2 stream's bookkeeping. */
const MESSAGE_OVERHEAD_BYTES = 256;

type OwnerOf = (call: ServerCall) => StreamOwner;

/** The node socket: each connection is its own client (all are root). */
const localOwner: OwnerOf = (call) => ({ connection: call.connection, identity: call.connection });

/** Mutual TLS: one identity per certificate (its CN and Organization), whatever the connections. */
const certOwner: OwnerOf = (call) => {
  const subject = call.peerSubject();
  const part = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(",") : (v ?? ""));
  return { connection: call.connection, identity: `certificate CN=${part(subject?.CN)} O=${part(subject?.O)}` };
};

/**
 * A Sink over a server-streaming call. Messages are encoded here, so their
 * size is known: the bytes written and not yet flushed (node:http2 calls back
 * when it took a message) are counted against the stream's share and the
 * gate's total, and a stream past either is ended with RESOURCE_EXHAUSTED.
 * The bytes are given back when the HTTP/2 stream closes, which is also when
 * node:http2 drops whatever it still held for it.
 */
function sinkFor<T>(call: ServerCall, m: MethodInfo, gate: StreamGate): Sink<T> & { fail(e: unknown): void; finish(): void } {
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
  call.signal.addEventListener("abort", abort, { once: true });
  call.stream.onClose(onClosed);
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
      call.write(bytes, () => {
        if (closed) return;
        pending -= n;
        gate.give(n);
        if (pending < limits.lowWaterBytes) wake();
      });
      if (call.finished) {
        // Over the send limit: the call was ended, nothing was queued.
        ended = true;
        abort();
        return false;
      }
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
      call.end(toStatus(e));
      // The status queues behind what the client has not read: a client that
      // reads nothing would keep it all. Reset the stream if it is still open;
      // if even the reset cannot go out (the connection takes no bytes at
      // all), end the connection: that is what frees what it holds.
      if (e instanceof StatusError && e.code === Code.RESOURCE_EXHAUSTED) {
        const stream = call.stream;
        setTimeout(() => {
          if (stream.closed) return;
          stream.close(CANCEL);
          setTimeout(() => {
            if (!stream.closed && !stream.connection.destroyed) stream.connection.destroy();
          }, limits.resetAfterMs);
        }, limits.resetAfterMs);
      }
    },
    finish(): void {
      if (ended) return;
      ended = true;
      call.end();
      abort();
    },
  };
  return sink;
}

/** Decoded requests, each checked for enum values this node does not know. */
async function* decoded(requests: AsyncIterable<Uint8Array>, m: MethodInfo): AsyncGenerator<unknown> {
  for await (const bytes of requests) {
    const r = decode<object>(m.requestType, bytes);
    assertKnownEnums(m.requestType, r);
    yield r;
  }
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
 * without running the handler), gives the slot back when its HTTP/2 stream closes.
 */
function openStream<T>(call: ServerCall, m: MethodInfo, served: Served, run: (sink: Sink<T>) => Promise<void>): void {
  const sink = sinkFor<T>(call, m, served.gate);
  let release: () => void;
  try {
    release = served.gate.admit(served.ownerOf(call));
  } catch (e) {
    sink.fail(e);
    return;
  }
  call.stream.onClose(release);
  run(sink).then(
    () => sink.finish(),
    (e) => sink.fail(e),
  );
}

/** Answers a call with one reply (or the status of the error). */
function reply(call: ServerCall, m: MethodInfo, result: Promise<unknown>): void {
  result.then(
    (res) => {
      if (call.finished) return;
      let bytes: Uint8Array;
      try {
        bytes = encode(m.responseType, res as object);
      } catch (e) {
        call.end(toStatus(e));
        return;
      }
      call.end(undefined, bytes);
    },
    (e) => call.end(toStatus(e)),
  );
}

/** Wraps one transport-free handler as a gRPC method: role check, enum check, context, error mapping. */
function adapt(m: MethodInfo, handler: AnyHandler, served: Served): MethodHandler {
  // The actor id and the signal are made on first use: a read-only unary call
  // (Version) touches neither, and both are per-call garbage otherwise.
  const context = (call: ServerCall): CallContext => {
    const role = served.roleOf(call);
    authorize(role, m.path);
    let actorId: string | undefined;
    return {
      role,
      hostname: safeHostname(served.hostname),
      get actorId() {
        return (actorId ??= crypto.randomUUID());
      },
    };
  };
  const withSignal = (ctx: CallContext, call: ServerCall): CallContext => Object.defineProperty(ctx, "signal", { get: () => call.signal, enumerable: true });
  if (!m.serverStream && m.clientStream) {
    // A stream of requests, one reply (EtcdRecover's upload).
    return {
      requestStream: true,
      handle(call, requests) {
        reply(
          call,
          m,
          (async () => (handler as (r: AsyncIterable<unknown>, c: CallContext) => unknown)(decoded(requests, m), withSignal(context(call), call)))(),
        );
      },
    };
  }
  if (!m.serverStream) {
    return {
      requestStream: false,
      handle(call, bytes) {
        // The signal aborts for a client's RST_STREAM and for a passed deadline alike.
        reply(
          call,
          m,
          (async () => {
            const ctx = context(call);
            const request = decode<object>(m.requestType, bytes);
            assertKnownEnums(m.requestType, request);
            return (handler as (r: unknown, c: CallContext) => unknown)(request, withSignal(ctx, call));
          })(),
        );
      },
    };
  }
  if (!m.clientStream) {
    return {
      requestStream: false,
      handle(call, bytes) {
        openStream(call, m, served, async (sink) => {
          const ctx = context(call);
          const request = decode<object>(m.requestType, bytes);
          assertKnownEnums(m.requestType, request);
          await (handler as (r: unknown, c: CallContext, s: Sink<unknown>) => Promise<void>)(request, ctx, sink);
        });
      },
    };
  }
  return {
    requestStream: true,
    handle(call, requests) {
      openStream(call, m, served, async (sink) => {
        const ctx = context(call);
        await (handler as (r: AsyncIterable<unknown>, c: CallContext, s: Sink<unknown>) => Promise<void>)(decoded(requests, m), ctx, sink);
      });
    },
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

/** The method table of one listener: every served service's methods, each behind forwarding. */
function methodTable(
  backend: MachineBackend,
  roleOf: RoleOf,
  ownerOf: OwnerOf,
  gate: StreamGate,
  stateDir: string,
  forwarder?: Forwarder,
): Map<string, MethodHandler> {
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
  const table = new Map<string, MethodHandler>();
  for (const service of SERVED_SERVICES) {
    const impl = impls[service];
    for (const m of serviceMethods(service)) table.set(m.path, withForwarding(m, adapt(m, impl[m.name]!, served), roleOf, forwarder));
  }
  return table;
}

/** Addresses the node may be dialled on, for the serving certificate's SANs. */
function localAddresses(): string[] {
  const out = new Set(["127.0.0.1", "::1"]);
  for (const list of Object.values(osLib().networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ""));
  return [...out];
}

/** Streams that follow (logs -f, events) never end on their own: calls get this long, then are cut. */
const SHUTDOWN_GRACE_MS = 1000;

export async function startMachineApi(backend: MachineBackend, opts: MachineApiOptions): Promise<MachineApi> {
  const servers: GrpcServer[] = [];
  try {
    // The socket directory is root-only, so the window between bind and chmod exposes nothing.
    mkdirSync(dirname(opts.socketPath), { recursive: true, mode: 0o700 });
    rmSync(opts.socketPath, { force: true }); // a stale socket from a previous boot
    const stateDir = opts.stateDir ?? STATE_DIR;
    // Calls naming other nodes (-n) are forwarded with a certificate the node issues itself (src/api/forward.ts).
    const forwarder = opts.ca?.key ? createForwarder(opts.ca, () => safeHostname(() => backend.hostname())) : undefined;
    const gate = new StreamGate(opts.streamLimits);
    const guard = new ConnectionGuard(opts.connectionLimits);
    const trim = opts.idleTrim === false ? undefined : new IdleTrim(opts.idleTrim);
    const collector = opts.busyCollect === false ? undefined : new BusyCollector(opts.busyCollect);
    const onCall = () => {
      trim?.touch();
      collector?.touch();
    };
    const local = new GrpcServer(methodTable(backend, localRole, localOwner, gate, stateDir, forwarder), { ...SERVER_OPTIONS, watcher: guard, onCall });
    servers.push(local);
    await local.listen({ path: opts.socketPath });
    guard.raiseBacklog({ path: opts.socketPath });
    chmodSync(opts.socketPath, 0o600);

    let tcpPort: number | undefined;
    if (opts.tcpPort !== undefined) {
      if (!opts.ca) throw new Error("machine API: a TCP listener needs the node CA (machine.ca)");
      const hostnames = ["localhost", safeHostname(() => backend.hostname()), ...(opts.certNames ?? [])].filter(Boolean);
      const serving: CertAndKey = issueServerCert(opts.ca, [...new Set(hostnames)], [...new Set([...localAddresses(), ...(opts.certIps ?? [])])]);
      const remote = new GrpcServer(methodTable(backend, certRole, certOwner, gate, stateDir, forwarder), {
        ...SERVER_OPTIONS,
        watcher: guard,
        onCall,
        tls: { ca: opts.ca.cert, cert: serving.cert, key: serving.key, requestCert: true },
      });
      servers.push(remote);
      tcpPort = await remote.listen({ host: opts.tcpHost ?? "0.0.0.0", port: opts.tcpPort });
      guard.raiseBacklog({ port: tcpPort });
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
        idleTrims: trim?.trims ?? 0,
        busyCollections: collector?.collections ?? 0,
        longestCollectMs: collector?.longestMs ?? 0,
      }),
      async close() {
        trim?.stop();
        collector?.stop();
        await Promise.all(servers.map((s) => s.shutdown(SHUTDOWN_GRACE_MS)));
        gate.close();
        rmSync(opts.socketPath, { force: true });
      },
    };
  } catch (e) {
    for (const s of servers) s.forceShutdown();
    throw e;
  }
}
