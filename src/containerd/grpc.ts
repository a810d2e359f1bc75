// gRPC to containerd's unix socket on our own HTTP/2 (src/api/h2 in its
// client role, over Bun.connect), with what the machine-API transport
// (src/api/transport.ts) does not offer: request metadata
// (containerd-namespace, containerd-lease) and client/bidirectional streams
// (content Write). Same framing and status handling as that transport, and
// the same ApiError, so callers see one error type. Not node:http2: a node
// running containers would load it (and node:net) into PID 1 for this client
// alone (src/lib/node-libs.ts), and its client strands request data that
// waits for window (oven-sh/bun#30319); here send() resolves once the
// message is on the socket, within containerd's windows.
import { connectUnix } from "../api/h2/connect.ts";
import type { H2Connection, H2Stream } from "../api/h2/connection.ts";
import { CANCEL, DEFAULT_WINDOW, NO_ERROR } from "../api/h2/frames.ts";
import { ApiError } from "../api/transport.ts";
import { Code } from "../api/status.ts";
import { headerField, statusFrom } from "../api/h2/grpc-status.ts";

export { ApiError };

/** containerd's default receive limit is 16 MiB; ReadContent replies are 1 MiB. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A larger receive window than HTTP/2's 64 KiB keeps content reads from stalling on WINDOW_UPDATEs. */
const WINDOW_BYTES = 8 * 1024 * 1024;
const CLIENT_SETTINGS = { maxConcurrentStreams: 100, streamWindow: WINDOW_BYTES, connectionWindow: WINDOW_BYTES, maxHeaderListBytes: 64 * 1024 };

export interface CallOptions {
  /** Deadline for the whole call: sent as grpc-timeout and enforced here. */
  timeoutMs?: number;
  /** Extra request headers (gRPC metadata), lower-case names. */
  metadata?: Record<string, string>;
}

/** The 5-byte length prefix is the machine API's (one definition: src/api/framing.ts). */
export { frame } from "../api/framing.ts";
import { frame, grpcRequestFields } from "../api/framing.ts";

export const USER_AGENT = "minos-containerd-client";

/** Splits a DATA byte stream into gRPC messages (uncompressed only). */
export class Deframer {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): Uint8Array[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Uint8Array[] = [];
    while (this.size >= 5) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.chunks = [buf];
      if (buf[0] !== 0) throw new ApiError(Code.INTERNAL, "compressed gRPC messages are not supported");
      const len = buf.readUInt32BE(1);
      if (len > MAX_MESSAGE_BYTES) throw new ApiError(Code.RESOURCE_EXHAUSTED, `message of ${len} bytes exceeds the client limit`);
      if (buf.length < 5 + len) break;
      out.push(buf.subarray(5, 5 + len));
      const rest = buf.subarray(5 + len);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
    return out;
  }
}

/**
 * One call in flight: send() frames a request (resolving once it is on the
 * socket, within the peer's flow-control windows), end() half-closes,
 * replies are read with next() or by iterating, and `done` settles with the
 * call's status. The HTTP/2 stream opens once the connection is up; calls
 * made meanwhile wait for it.
 */
export class Call implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  private cancelled = false;
  private stream: H2Stream | undefined;
  private readonly ready: Promise<H2Stream | undefined>;
  /** send()s waiting for their bytes to reach the socket (or the call to end). */
  private writers: (() => void)[] = [];
  private status: ApiError | null | undefined;
  private settle!: (err: Error | undefined) => void;
  private readonly deadline: ReturnType<typeof setTimeout> | undefined;
  readonly done: Promise<void>;

  constructor(
    opening: Promise<H2Stream>,
    private readonly where: string,
    timeoutMs: number | undefined,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    // Failures surface through next()/send(); an unobserved `done` must not crash the process.
    this.done.catch(() => {});
    this.deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => this.finish(new ApiError(Code.DEADLINE_EXCEEDED, `no answer from ${where} within ${timeoutMs} ms`), true), timeoutMs);
    this.ready = opening.then(
      (stream) => {
        if (this.finished) {
          stream.close(CANCEL);
          return undefined;
        }
        this.attach(stream);
        return stream;
      },
      (e: Error) => {
        this.finish(transportError(e, where));
        return undefined;
      },
    );
  }

  private attach(stream: H2Stream): void {
    this.stream = stream;
    const deframer = new Deframer();
    let sawHeaders = false;
    stream.onHeaders = (fields) => {
      if (!sawHeaders) {
        sawHeaders = true;
        const httpStatus = headerField(fields, ":status");
        if (httpStatus !== "200") this.status = new ApiError(Code.UNAVAILABLE, `HTTP ${httpStatus ?? "(none)"} from ${this.where}`);
      }
      const s = statusFrom(fields);
      if (s !== undefined) this.status = s;
    };
    stream.onData = (chunk: Buffer) => {
      try {
        for (const m of deframer.push(chunk)) this.queue.push(m);
        this.notify();
      } catch (e) {
        this.finish(e as Error, true);
      }
    };
    stream.onEnd = () => {
      // The server's side is complete: the status is known (or missing). A request still being sent is cut.
      this.finish(this.status !== undefined ? this.status : new ApiError(Code.INTERNAL, `${this.where}: the reply ended without a status`));
      if (!stream.closed && !stream.localEnded) stream.close(NO_ERROR);
    };
    stream.onClose(() => {
      this.releaseWriters();
      if (this.status !== undefined) this.finish(this.status);
      else if (stream.resetCode === CANCEL) this.finish(new ApiError(Code.CANCELLED, "call cancelled"));
      else this.finish(new ApiError(Code.UNAVAILABLE, `${this.where}: stream closed without a status (code ${stream.resetCode ?? "none"})`));
    });
  }

  private finish(err: Error | null | undefined, cancel = false): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    if (cancel && this.stream && !this.stream.closed) this.stream.close(CANCEL);
    this.failure = err ?? undefined;
    this.notify();
    this.releaseWriters();
    this.settle(this.failure);
  }

  private releaseWriters(): void {
    const w = this.writers;
    this.writers = [];
    for (const fn of w) fn();
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  /** Sends one request message; resolves once it is on the socket. */
  async send(message: Uint8Array): Promise<void> {
    return this.sendFramed(frame(message));
  }

  /** Like send() for a message already framed (5-byte gRPC prefix included). */
  async sendFramed(framed: Uint8Array): Promise<void> {
    if (this.finished) throw this.failure ?? new ApiError(Code.FAILED_PRECONDITION, "call already finished");
    const stream = this.stream ?? (await this.ready);
    if (!stream || this.finished) throw this.failure ?? new ApiError(Code.FAILED_PRECONDITION, "call already finished");
    if (!stream.accepting) throw new ApiError(Code.FAILED_PRECONDITION, "the call's requests were already ended");
    await new Promise<void>((resolve) => {
      this.writers.push(resolve);
      stream.write(framed, () => {
        const i = this.writers.indexOf(resolve);
        if (i >= 0) this.writers.splice(i, 1);
        resolve();
      });
    });
    if (this.finished && this.failure) throw this.failure;
  }

  /**
   * The peer's SETTINGS_INITIAL_WINDOW_SIZE as last announced on this call's
   * connection (HTTP/2's 65535 until it says otherwise). grpc-go's BDP
   * estimator raises it during large uploads; content.ts sizes its writes by it.
   */
  peerInitialWindow(): number {
    return this.stream?.connection.peerStreamWindow ?? DEFAULT_WINDOW;
  }

  /** Half-closes: no more requests. */
  end(): void {
    if (this.stream) this.stream.endData();
    else void this.ready.then((s) => s?.endData());
  }

  /** Stops the call; a reader waiting in next() (or a for-await loop) then simply ends. */
  cancel(): void {
    this.cancelled = true;
    this.queue.length = 0;
    this.notify();
    if (this.stream) {
      if (!this.stream.closed) this.stream.close(CANCEL);
    } else void this.ready.then((s) => s && !s.closed && s.close(CANCEL));
  }

  /** The next reply; undefined once the call ended with OK (or was cancelled here). Throws the call's error status. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.cancelled) return undefined;
      if (this.queue.length) return this.queue.shift()!;
      if (this.finished) {
        if (this.failure) throw this.failure;
        return undefined;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        const m = await this.next();
        if (m === undefined) return;
        yield m;
      }
    } finally {
      if (!this.finished) this.cancel();
    }
  }
}

/** A lazily (re)connected HTTP/2 connection to one unix socket: a containerd restart needs no new client. */
export class Channel {
  private conn: H2Connection | undefined;
  private connecting: Promise<H2Connection> | undefined;
  private readonly where: string;

  constructor(readonly socketPath: string) {
    this.where = `unix:${socketPath}`;
  }

  private connection(): Promise<H2Connection> {
    const c = this.conn;
    if (c && !c.closed && !c.destroyed) return Promise.resolve(c);
    if (this.connecting) return this.connecting;
    const p = connectUnix(this.socketPath, CLIENT_SETTINGS).then(
      (conn) => {
        this.connecting = undefined;
        this.conn = conn;
        conn.onClose(() => {
          if (this.conn === conn) this.conn = undefined;
        });
        return conn;
      },
      (e: Error) => {
        this.connecting = undefined;
        throw e;
      },
    );
    this.connecting = p;
    return p;
  }

  /** Opens a call to /package.Service/Method; send requests on it. */
  open(path: string, opts: CallOptions = {}): Call {
    const fields = grpcRequestFields(path, USER_AGENT, opts.metadata, opts.timeoutMs);
    const opening = this.connection().then((c) => c.request(fields));
    return new Call(opening, this.where, opts.timeoutMs);
  }

  async unary(path: string, body: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    const call = this.open(path, opts);
    await call.send(body);
    call.end();
    const reply = await call.next();
    if (reply === undefined) throw new ApiError(Code.INTERNAL, `${path}: no reply`);
    await call.done;
    return reply;
  }

  /** One request, a stream of replies. */
  serverStream(path: string, body: Uint8Array, opts: CallOptions = {}): Call {
    const call = this.open(path, opts);
    call.send(body).then(
      () => call.end(),
      () => {},
    );
    return call;
  }

  close(): void {
    const c = this.conn;
    this.conn = undefined;
    if (c && !c.closed && !c.destroyed) c.close();
  }
}

/** Connection-level failures as UNAVAILABLE with one clear line. */
function transportError(e: Error, where: string): ApiError {
  if (e instanceof ApiError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new ApiError(Code.UNAVAILABLE, `${where}: no such socket (is containerd running?)`);
  if (code === "ECONNREFUSED") return new ApiError(Code.UNAVAILABLE, `${where}: connection refused (is containerd running?)`);
  if (code === "EACCES") return new ApiError(Code.UNAVAILABLE, `${where}: permission denied on the socket`);
  return new ApiError(Code.UNAVAILABLE, `${where}: ${e.message}`);
}
