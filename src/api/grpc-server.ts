// A gRPC server on our own HTTP/2 (src/api/h2), written from the protocol
// description (grpc/doc/PROTOCOL-HTTP2.md), for the machine API in PID 1. It
// replaced grpc-js there (~9 MiB and tens of ms of module load less, and a
// shorter path per call), and its HTTP/2 replaced Bun's node:http2 (README
// "Benchmarks"). What it owns:
// - routing by :path (unknown: UNIMPLEMENTED), content-type checks (not
//   application/grpc*: HTTP 415, as the protocol asks);
// - length-prefixed messages both ways, with receive and send limits
//   (RESOURCE_EXHAUSTED) and compressed messages refused (framing.ts);
// - status in trailers, or trailers-only when nothing was sent;
//   grpc-message percent-encoded;
// - grpc-timeout deadlines: the call is ended with DEADLINE_EXCEEDED and
//   its signal aborted;
// - metadata (request headers, -bin values base64-decoded);
// - cancellation: a stream the client reset (or whose connection died)
//   aborts the call's signal before the handler finishes;
// - flow control: write() reports HTTP/2's backpressure and calls back
//   when the client read a message; client streams pause the HTTP/2 stream
//   while the handler is behind, so an upload waits in the client's window;
// - per connection: keepalive pings, a GOAWAY after a long idle time, a cap
//   on concurrent HTTP/2 streams; a graceful then forced shutdown.
// Connection limits (caps, first-request deadline, backlog) are
// connections.ts's, told of each connection through `watcher`.
import { CONNECTION_DEFAULTS, type H2Connection, type H2Stream, type RequestHeaders } from "./h2/connection.ts";
import { CANCEL, NO_ERROR } from "./h2/frames.ts";
import { encodeHeaders } from "./h2/hpack.ts";
import { H2Listener } from "./h2/listener.ts";
import { MessageReader, frame, parseGrpcTimeout, percentEncode } from "./framing.ts";
import { Code, StatusError, toStatus, type StatusCode } from "./status.ts";

export interface Status {
  code: StatusCode;
  details: string;
}

/** A call's request metadata: every request header but the pseudo and reserved ones; -bin values decoded. */
export class Metadata {
  constructor(private readonly headers: RequestHeaders) {}

  /** The values of one key (lower case), in order: one per header field, or comma-joined ones as sent. */
  get(key: string): (string | Buffer)[] {
    const k = key.toLowerCase();
    if (k.startsWith(":") || RESERVED.has(k)) return [];
    const raw = this.headers[k];
    if (raw === undefined) return [];
    const list = Array.isArray(raw) ? raw : [raw];
    if (!k.endsWith("-bin")) return list;
    return list.flatMap((v) => v.split(",")).map((v) => Buffer.from(v.trim(), "base64"));
  }

  /** Every key present (for tests and diagnostics). */
  keys(): string[] {
    return Object.keys(this.headers).filter((k) => !k.startsWith(":") && !RESERVED.has(k));
  }
}

/** Headers the transport itself uses; not metadata. */
const RESERVED = new Set(["content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "content-length"]);

/** A verified client certificate's subject (mutual TLS listener). */
export interface PeerSubject {
  CN?: string | string[];
  O?: string | string[];
}

export interface ServerCallLimits {
  maxSendBytes: number;
}

/**
 * When a connection's peer has really read what was sent. A write's callback
 * runs once its bytes are on the socket, but the kernel's buffers hold
 * megabytes a client may never read. So delivery is confirmed end to end:
 * after writes, a PING goes out behind them, and its ACK (a peer answers in
 * order, only once it read everything before it) confirms every write queued
 * before it. One PING is in flight per connection; writes meanwhile wait for
 * the next. (node:http2, which this server used before, even called back as
 * soon as a frame was queued: a client granting a 2 GiB window and reading
 * nothing got 2 GiB buffered in PID 1.)
 */
export class DeliveryConfirmer {
  private waiting: (() => void)[] = [];
  private inFlight: (() => void)[] | undefined;
  private scheduled = false;
  /** When the PING in flight went out (0: none), for the keepalive's timeout. */
  sentAt = 0;

  constructor(private readonly session: H2Connection) {}

  /** Calls fn once the peer read everything written so far. */
  afterDelivery(fn: () => void): void {
    this.waiting.push(fn);
    if (this.inFlight || this.scheduled) return;
    // Writes of one turn of the event loop share a PING.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.inFlight) this.ping();
    });
  }

  /** A keepalive probe: a PING unless one is in flight. */
  probe(): void {
    if (!this.inFlight && !this.scheduled) this.ping();
  }

  private ping(): void {
    if (this.session.destroyed || this.session.closed) return;
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight = batch;
    this.sentAt = Date.now();
    const done = (err: Error | null) => {
      const confirmed = this.inFlight ?? [];
      this.inFlight = undefined;
      this.sentAt = 0;
      if (err) return; // the connection is going: its streams' close gives their bytes back
      for (const fn of confirmed) fn();
      if (this.waiting.length) this.ping();
    };
    try {
      if (!this.session.ping(done)) done(new Error("ping refused"));
    } catch (e) {
      done(e as Error);
    }
  }
}

/** A call's own write high-water mark: write() says false past it, and the handler waits for onDrain. */
const CALL_HIGH_WATER_BYTES = 64 * 1024;

const RESPONSE_FIELDS: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/grpc+proto"],
  ["grpc-accept-encoding", "identity"],
];
/** The header blocks of nearly every call, encoded once (the encoder keeps no state between blocks). */
const RESPONSE_BLOCK = encodeHeaders(RESPONSE_FIELDS);
const OK_TRAILERS_BLOCK = encodeHeaders([["grpc-status", "0"]]);

/**
 * One call. The handler answers with write() (server streams) and end();
 * signal aborts when the client goes before the answer is complete (reset,
 * connection lost) or the deadline passes. `stream`'s onClose is when
 * HTTP/2 dropped whatever it still held for the call.
 */
export class ServerCall {
  /** Made when a handler first asks for the signal: most unary calls never do, and an AbortController per call is garbage on the hot path. */
  private controller: AbortController | undefined;
  private responded = false;
  private ended = false;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /** The client reset the stream, its connection went, or the deadline passed, before the answer was complete. */
  cancelled = false;
  readonly metadata: Metadata;
  /** When the client's deadline passes (ms since the epoch); Infinity without grpc-timeout. */
  readonly deadline: number;

  constructor(
    readonly stream: H2Stream,
    readonly path: string,
    headers: RequestHeaders,
    readonly connection: string,
    private readonly limits: ServerCallLimits,
    timeoutMs: number | undefined,
    private readonly confirmer?: DeliveryConfirmer,
  ) {
    this.metadata = new Metadata(headers);
    this.deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    if (timeoutMs !== undefined)
      this.deadlineTimer = setTimeout(() => {
        this.deadlineTimer = undefined;
        if (this.ended) return;
        this.end({ code: Code.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
        this.cancel();
      }, timeoutMs);
    stream.onClose(() => {
      clearTimeout(this.deadlineTimer);
      if (!this.ended) {
        this.ended = true;
        this.cancel();
      }
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const fn of w) fn();
    });
  }

  /** Aborted once the call is cancelled (reset, connection lost, deadline); already aborted if asked for after that. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort();
    }
    return this.controller.signal;
  }

  private cancel(): void {
    this.cancelled = true;
    this.controller?.abort();
  }

  /** Whether end() ran or the stream closed: nothing more goes out. */
  get finished(): boolean {
    return this.ended;
  }

  /** The verified client certificate's subject; undefined on the node socket. */
  peerSubject(): PeerSubject | undefined {
    return this.stream.connection.peer;
  }

  /** Bytes written and not yet confirmed read by the client (see DeliveryConfirmer). */
  get writableLength(): number {
    return this.unconfirmed;
  }

  private unconfirmed = 0;
  private drainWaiters: (() => void)[] = [];

  /** Calls fn once write() would take more (the client read what was written), or the call is over. */
  onDrain(fn: () => void): void {
    if (this.ended || this.stream.closed || this.unconfirmed < CALL_HIGH_WATER_BYTES) queueMicrotask(fn);
    else this.drainWaiters.push(fn);
  }

  private delivered(n: number, onFlushed: (() => void) | undefined): void {
    this.unconfirmed -= n;
    onFlushed?.();
    if (this.unconfirmed < CALL_HIGH_WATER_BYTES && this.drainWaiters.length) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const fn of w) fn();
    }
  }

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respondBlock(RESPONSE_BLOCK, false);
  }

  /**
   * Sends one message; false when HTTP/2 is holding back (wait for 'drain',
   * or for onFlushed) or the call is over. A message over the send limit
   * ends the call with RESOURCE_EXHAUSTED.
   */
  write(message: Uint8Array, onFlushed?: () => void): boolean {
    if (this.ended) return false;
    if (message.length > this.limits.maxSendBytes) {
      this.end({ code: Code.RESOURCE_EXHAUSTED, details: `sent message larger than max (${message.length} vs. ${this.limits.maxSendBytes})` });
      return false;
    }
    this.respond();
    const n = message.length + 5;
    this.unconfirmed += n;
    const taken = () => {
      if (this.confirmer) this.confirmer.afterDelivery(() => this.delivered(n, onFlushed));
      else this.delivered(n, onFlushed);
    };
    const more = this.stream.write(frame(message), taken);
    return more && this.unconfirmed < CALL_HIGH_WATER_BYTES;
  }

  /** Ends the call with a status (OK when omitted), after `last` if given (a unary reply). Once. */
  end(status?: Status, last?: Uint8Array): void {
    if (this.ended) return;
    if (last && last.length > this.limits.maxSendBytes) {
      status = { code: Code.RESOURCE_EXHAUSTED, details: `sent message larger than max (${last.length} vs. ${this.limits.maxSendBytes})` };
      last = undefined;
    }
    this.ended = true;
    clearTimeout(this.deadlineTimer);
    const code = status?.code ?? Code.OK;
    if (this.stream.closed) return;
    const grpcStatus: [string, string][] = [["grpc-status", String(code)]];
    if (code !== Code.OK && status?.details) grpcStatus.push(["grpc-message", percentEncode(status.details)]);
    if (!this.responded && !last) {
      // Trailers-only: the status in the one HEADERS frame.
      this.responded = true;
      this.stream.respondBlock(encodeHeaders([...RESPONSE_FIELDS, ...grpcStatus]), true);
      // A client still sending (an over-size upload) would hold the stream open: reset it once the status is out.
      if (!this.stream.remoteEnded)
        setImmediate(() => {
          if (!this.stream.closed) this.stream.close(NO_ERROR);
        });
      return;
    }
    this.respond();
    this.stream.endBlock(code === Code.OK ? OK_TRAILERS_BLOCK : encodeHeaders(grpcStatus), last ? frame(last) : undefined);
  }

  /** Resets the HTTP/2 stream (a status that cannot be delivered). */
  reset(code: number = CANCEL): void {
    this.ended = true;
    if (!this.stream.closed) this.stream.close(code);
  }
}

/** What a method does with a call: its request (unary and server-stream methods) or its requests. */
export type MethodHandler =
  | { requestStream: false; handle(call: ServerCall, request: Uint8Array): void }
  | { requestStream: true; handle(call: ServerCall, requests: AsyncIterable<Uint8Array>): void };

export interface GrpcServerOptions {
  maxReceiveBytes: number;
  maxSendBytes: number;
  /** HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Ping a connection this often; destroy it when the ack takes longer than keepaliveTimeoutMs. */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** A connection with no stream for this long gets GOAWAY. */
  idleMs: number;
  /** Mutual TLS (PEM); omitted: cleartext HTTP/2 (the node socket). */
  tls?: { ca?: string; cert: string; key: string; requestCert: boolean };
  /** Told of every connection (connections.ts polices them). */
  watcher?: ConnectionWatcher;
  /** Called once per dispatched call (init's idle memory trim counts them). */
  onCall?: () => void;
}

export const GRPC_SERVER_DEFAULTS: GrpcServerOptions = {
  maxReceiveBytes: 4 * 1024 * 1024,
  maxSendBytes: 16 * 1024 * 1024,
  maxConcurrentStreams: 100,
  keepaliveMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  idleMs: 5 * 60_000,
};

/** What a connection policy sees of each connection. */
export interface ConnectionWatcher {
  /** Accepted, before any byte (and any TLS handshake); destroying it refuses it. */
  accepted(c: H2Connection, secure: boolean): void;
  /** The HTTP/2 session began (after the handshake on TLS). */
  started(c: H2Connection): void;
  /** The connection opened a stream. */
  streamOpened(c: H2Connection): void;
}

/** Requests a client-streaming handler has not read yet, before the HTTP/2 stream is paused. */
const REQUEST_QUEUE_HIGH = 16;
const REQUEST_QUEUE_LOW = 4;

export class GrpcServer {
  private readonly listener: H2Listener;
  private readonly sessions = new Set<H2Connection>();
  private readonly confirmers = new WeakMap<H2Connection, DeliveryConfirmer>();
  private closing = false;

  constructor(
    private readonly methods: ReadonlyMap<string, MethodHandler>,
    private readonly opts: GrpcServerOptions = GRPC_SERVER_DEFAULTS,
  ) {
    const secure = Boolean(opts.tls);
    this.listener = new H2Listener(
      {
        accepted: (c) => opts.watcher?.accepted(c, secure),
        started: (c) => this.track(c),
      },
      opts.tls,
      { ...CONNECTION_DEFAULTS, maxConcurrentStreams: opts.maxConcurrentStreams },
    );
  }

  /** Listens on a unix socket path or a TCP host:port; resolves to the TCP port bound (0 for a socket). */
  async listen(address: { path: string } | { host: string; port: number }): Promise<number> {
    return this.listener.listen(address);
  }

  /** Open connections (HTTP/2 sessions). */
  get connections(): number {
    return this.sessions.size;
  }

  private track(session: H2Connection): void {
    if (this.closing) return session.destroy();
    this.sessions.add(session);
    this.opts.watcher?.started(session);
    // One idle timer per session, restarted (refresh(), no new timer) whenever
    // the last open stream closes; firing while a stream is open does nothing,
    // as that stream's close restarts it. A sequential client would otherwise
    // cost a clearTimeout and a setTimeout per call.
    let open = 0;
    const idle = setTimeout(() => {
      if (open === 0 && !session.closed && !session.destroyed) session.close();
    }, this.opts.idleMs);
    session.onStream = (stream) => {
      open++;
      stream.onClose(() => {
        if (--open === 0 && !session.destroyed) idle.refresh();
      });
      this.opts.watcher?.streamOpened(session);
      this.dispatch(stream);
    };
    // Finds a dead peer of a long-lived stream (logs -f) even when nothing is
    // written; a PING unanswered past the timeout (a delivery one too) ends it.
    const confirmer = new DeliveryConfirmer(session);
    this.confirmers.set(session, confirmer);
    const tick = Math.min(this.opts.keepaliveMs, this.opts.keepaliveTimeoutMs);
    let sinceProbe = 0;
    const keepalive = setInterval(() => {
      if (session.destroyed) return;
      if (confirmer.sentAt && Date.now() - confirmer.sentAt > this.opts.keepaliveTimeoutMs) return session.destroy();
      sinceProbe += tick;
      if (sinceProbe < this.opts.keepaliveMs) return;
      sinceProbe = 0;
      confirmer.probe();
    }, tick);
    session.onClose(() => {
      this.sessions.delete(session);
      clearTimeout(idle);
      clearInterval(keepalive);
    });
  }

  private dispatch(stream: H2Stream): void {
    this.opts.onCall?.();
    const headers = stream.headers;
    const contentType = headers["content-type"];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond(
        [
          [":status", "415"],
          ["content-type", "text/plain"],
        ],
        true,
      );
      return;
    }
    const path = String(headers[":path"] ?? "");
    const session = stream.connection;
    const timeoutHeader = headers["grpc-timeout"];
    const timeoutMs = parseGrpcTimeout(typeof timeoutHeader === "string" ? timeoutHeader : undefined);
    const call = new ServerCall(
      stream,
      path,
      headers,
      session.id,
      { maxSendBytes: this.opts.maxSendBytes },
      Number.isNaN(timeoutMs) ? undefined : timeoutMs,
      this.confirmers.get(session),
    );
    if (Number.isNaN(timeoutMs)) return call.end({ code: Code.INTERNAL, details: `invalid grpc-timeout value "${String(timeoutHeader)}"` });
    if (headers[":method"] !== "POST") return call.end({ code: Code.UNIMPLEMENTED, details: `gRPC needs POST, not ${String(headers[":method"])}` });
    const method = this.methods.get(path);
    if (!method) return call.end({ code: Code.UNIMPLEMENTED, details: `The server does not implement the method ${path}` });
    const encoding = headers["grpc-encoding"];
    const reader = new MessageReader(this.opts.maxReceiveBytes, typeof encoding === "string" ? encoding : undefined);
    const fail = (e: unknown) => {
      call.end(toStatus(e));
      // What the client still sends is read and dropped, so its window does not stall the connection.
      stream.onData = undefined;
      stream.resume();
    };
    const run = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        fail(e);
      }
    };
    if (!method.requestStream) {
      // One request: read to the client's half-close, then run the handler.
      let request: Uint8Array | undefined;
      let count = 0;
      let failed = false;
      stream.onData = (chunk: Buffer) => {
        if (failed) return;
        try {
          for (const m of reader.push(chunk)) {
            count++;
            request = m;
          }
        } catch (e) {
          failed = true;
          fail(e);
        }
      };
      stream.onEnd = () => {
        if (failed || call.finished) return;
        if (count !== 1 || reader.buffered > 0)
          return call.end({ code: Code.INTERNAL, details: `expected one request message, got ${count}${reader.buffered ? " and a partial one" : ""}` });
        run(() => method.handle(call, request!));
      };
      return;
    }
    run(() => method.handle(call, this.requestsOf(stream, reader, call, fail)));
  }

  /** A call's requests as they come; the HTTP/2 stream is paused while the handler is behind. */
  private requestsOf(stream: H2Stream, reader: MessageReader, call: ServerCall, fail: (e: unknown) => void): AsyncIterable<Uint8Array> {
    const queue: Uint8Array[] = [];
    let done = false;
    let error: unknown;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    stream.onData = (chunk: Buffer) => {
      if (done) return;
      try {
        for (const m of reader.push(chunk)) queue.push(m);
      } catch (e) {
        done = true;
        error = e;
        fail(e);
      }
      if (queue.length >= REQUEST_QUEUE_HIGH) stream.pause();
      notify();
    };
    stream.onEnd = () => {
      if (!done && reader.buffered > 0) {
        error = new StatusError(Code.INTERNAL, "the request stream ended inside a message");
        fail(error);
      }
      done = true;
      notify();
    };
    call.signal.addEventListener("abort", () => {
      done = true;
      notify();
    });
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length) {
            const m = queue.shift()!;
            if (queue.length < REQUEST_QUEUE_LOW && stream.isPaused) stream.resume();
            yield m;
          } else if (error) throw error;
          else if (done) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    };
  }

  /**
   * Stops listening and sends every connection GOAWAY; calls still open
   * after graceMs (follow streams never end by themselves) are cut.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.listener.close();
    for (const s of this.sessions) if (!s.closed) s.close();
    const drained = new Promise<void>((r) => {
      const check = () => (this.sessions.size === 0 ? r() : setTimeout(check, 20));
      check();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.forceShutdown();
  }

  /** Destroys every connection and the listener now. */
  forceShutdown(): void {
    this.closing = true;
    for (const s of [...this.sessions]) if (!s.destroyed) s.destroy();
    this.sessions.clear();
    this.listener.close();
  }
}
