// gRPC over our own HTTP/2 (connection.ts in its client role) on a unix
// socket through Bun.connect: unary, server, client and bidirectional
// streams, request metadata, deadlines. PID 1's containerd client
// (src/containerd/grpc.ts) and the machine API transport's unix endpoints
// (src/api/transport.ts) are both this; neither loads node:http2 or node:net
// (src/lib/node-libs.ts says what they cost). send() resolves once the
// message is on the socket, within the peer's flow-control windows (Bun's
// node:http2 client strands data that waits for window: oven-sh/bun#30319).
import { connectUnix } from "./connect.ts";
import type { ConnectionSettings, H2Connection, H2Stream } from "./connection.ts";
import { CANCEL, DEFAULT_WINDOW, NO_ERROR, REFUSED_STREAM } from "./frames.ts";
import { headerField, statusFrom } from "./grpc-status.ts";
import { ApiError } from "../errors.ts";
import { Code } from "../status.ts";
import { frame, grpcRequestFields } from "../framing.ts";

/** Replies above this are refused (containerd's own default is 16 MiB; ReadContent replies are 1 MiB). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface CallOptions {
  /** Deadline for the whole call: sent as grpc-timeout and enforced here. */
  timeoutMs?: number;
  /** Extra request headers (gRPC metadata), lower-case names; a list is one field per value. */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
}

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

  /** The server refused the stream before it started (a GOAWAY's REFUSED_STREAM): safe to send again. */
  refused = false;

  constructor(
    opening: Promise<H2Stream>,
    private readonly where: string,
    timeoutMs: number | undefined,
    hints: Pick<ChannelOptions, "hint" | "deniedHint">,
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
        this.finish(transportError(e, where, hints));
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
      else if (stream.resetCode === REFUSED_STREAM && stream.resetByPeer) {
        this.refused = true;
        this.finish(new ApiError(Code.UNAVAILABLE, `${this.where}: the server refused the stream (it is closing the connection)`));
      } else this.finish(new ApiError(Code.UNAVAILABLE, `${this.where}: stream closed without a status (code ${stream.resetCode ?? "none"})`));
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

/** Who a channel talks to, for its requests and its error messages. */
export interface ChannelOptions {
  userAgent: string;
  settings: ConnectionSettings;
  /** What a refused or missing socket probably means, in the error ("is containerd running?"). */
  hint: string;
  /** What a socket the caller may not open wants (" (run as root)"), appended to that error. */
  deniedHint?: string;
  /** The socket does not keep the process alive (a one-shot command's idle connection). */
  unref?: boolean;
}

/** A lazily (re)connected HTTP/2 connection to one unix socket: a server restart needs no new client. */
export class Channel {
  private conn: H2Connection | undefined;
  private connecting: Promise<H2Connection> | undefined;
  private readonly where: string;

  constructor(
    readonly socketPath: string,
    private readonly opts: ChannelOptions,
  ) {
    this.where = `unix:${socketPath}`;
  }

  private connection(): Promise<H2Connection> {
    const c = this.conn;
    if (c && !c.closed && !c.destroyed) return Promise.resolve(c);
    if (this.connecting) return this.connecting;
    const p = connectUnix(this.socketPath, this.opts.settings, this.opts.unref).then(
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
    const fields = grpcRequestFields(path, this.opts.userAgent, opts.metadata, opts.timeoutMs);
    const opening = this.connection().then((c) => c.request(fields));
    return new Call(opening, this.where, opts.timeoutMs, this.opts);
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
export function transportError(e: Error, where: string, hints: Pick<ChannelOptions, "hint" | "deniedHint">): ApiError {
  if (e instanceof ApiError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new ApiError(Code.UNAVAILABLE, `${where}: no such socket (${hints.hint})`);
  if (code === "ECONNREFUSED") return new ApiError(Code.UNAVAILABLE, `${where}: connection refused (${hints.hint})`);
  if (code === "EACCES") return new ApiError(Code.UNAVAILABLE, `${where}: permission denied on the socket${hints.deniedHint ?? ""}`);
  return new ApiError(Code.UNAVAILABLE, `${where}: ${e.message}`);
}
