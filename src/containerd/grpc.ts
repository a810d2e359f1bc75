// gRPC over node:http2 to containerd's unix socket, with what the machine-API
// transport (src/api/transport.ts) does not offer yet: request metadata
// (containerd-namespace, containerd-lease) and client/bidirectional streams
// (content Write). Same framing and status handling as that transport, and
// the same ApiError, so callers see one error type. If transport.ts gains
// metadata and a duplex call, this file shrinks to a wrapper over it.
import type http2 from "node:http2";
import { CANCEL } from "../api/h2/frames.ts";
import { http2Lib, netLib } from "../lib/node-libs.ts";
import { ApiError } from "../api/transport.ts";
import { CODE_NAMES, Code } from "../api/status.ts";

export { ApiError };

/** containerd's default receive limit is 16 MiB; ReadContent replies are 1 MiB. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A larger receive window than HTTP/2's 64 KiB keeps content reads from stalling on WINDOW_UPDATEs. */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** HTTP/2's initial flow-control window (RFC 9113 6.9.2) before the peer's SETTINGS say otherwise. */
const DEFAULT_WINDOW = 65_535;

export interface CallOptions {
  /** Deadline for the whole call: sent as grpc-timeout and enforced here. */
  timeoutMs?: number;
  /** Extra request headers (gRPC metadata), lower-case names. */
  metadata?: Record<string, string>;
}

/** The 5-byte length prefix is the machine API's (one definition: src/api/framing.ts). */
export { frame } from "../api/framing.ts";
import { frame } from "../api/framing.ts";

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

export function statusFrom(headers: http2.IncomingHttpHeaders): ApiError | null | undefined {
  const raw = headers["grpc-status"];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === Code.OK) return null;
  let details = String(headers["grpc-message"] ?? "");
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded after all
  }
  return new ApiError(code, details || CODE_NAMES[code] || "error");
}

/**
 * One call in flight: send() frames a request (waiting while HTTP/2 flow
 * control says the peer is full), end() half-closes, replies are read with
 * next() or by iterating, and `done` settles with the call's status.
 */
export class Call implements AsyncIterable<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  private cancelled = false;
  readonly done: Promise<void>;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    where: string,
    timeoutMs: number | undefined,
  ) {
    let status: ApiError | null | undefined;
    const deframer = new Deframer();
    this.done = new Promise<void>((resolve, reject) => {
      const deadline =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => finish(new ApiError(Code.DEADLINE_EXCEEDED, `no answer from ${where} within ${timeoutMs} ms`), true), timeoutMs);
      const finish = (err: Error | null | undefined, cancel = false) => {
        if (this.finished) return;
        this.finished = true;
        clearTimeout(deadline);
        if (cancel && !stream.closed) stream.close(CANCEL);
        this.failure = err ?? undefined;
        this.notify();
        if (err) reject(err);
        else resolve();
      };
      stream.on("response", (headers) => {
        const httpStatus = Number(headers[":status"]);
        if (httpStatus !== 200) status = new ApiError(Code.UNAVAILABLE, `HTTP ${httpStatus} from ${where}`);
        const s = statusFrom(headers);
        if (s !== undefined) status = s;
      });
      stream.on("data", (chunk: Buffer) => {
        try {
          for (const m of deframer.push(chunk)) this.queue.push(m);
          this.notify();
        } catch (e) {
          finish(e as Error, true);
        }
      });
      stream.on("trailers", (headers) => {
        const s = statusFrom(headers);
        if (s !== undefined) status = s;
      });
      stream.on("error", (e) => finish(transportError(e, where)));
      stream.on("close", () => {
        if (status !== undefined) finish(status);
        else if (stream.rstCode === CANCEL) finish(new ApiError(Code.CANCELLED, "call cancelled"));
        else finish(new ApiError(Code.UNAVAILABLE, `${where}: stream closed without a status (code ${stream.rstCode})`));
      });
    });
    // Failures surface through next()/send(); an unobserved `done` must not crash the process.
    this.done.catch(() => {});
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  /**
   * Sends one request message; resolves when the peer's flow-control window
   * has room again. Beware Bun 1.4: a message that has to wait for window can
   * be stranded (see content.ts), so large uploads pace themselves by replies.
   */
  async send(message: Uint8Array): Promise<void> {
    return this.sendFramed(frame(message));
  }

  /** Like send() for a message already framed (5-byte gRPC prefix included). */
  async sendFramed(framed: Uint8Array): Promise<void> {
    if (this.finished) throw this.failure ?? new ApiError(Code.FAILED_PRECONDITION, "call already finished");
    if (this.stream.write(framed)) return;
    await new Promise<void>((resolve) => {
      const go = () => {
        this.stream.off("drain", go);
        this.stream.off("close", go);
        resolve();
      };
      this.stream.on("drain", go);
      this.stream.on("close", go);
    });
    if (this.finished && this.failure) throw this.failure;
  }

  /**
   * The peer's SETTINGS_INITIAL_WINDOW_SIZE as last announced on this call's
   * connection (HTTP/2's 65535 until it says otherwise). grpc-go's BDP
   * estimator raises it during large uploads; see content.ts for how an
   * upload sizes its writes by it.
   */
  peerInitialWindow(): number {
    const w = this.stream.session?.remoteSettings?.initialWindowSize;
    return typeof w === "number" && w > 0 ? w : DEFAULT_WINDOW;
  }

  /** Half-closes: no more requests. */
  end(): void {
    if (!this.stream.closed && !this.stream.writableEnded) this.stream.end();
  }

  /** Stops the call; a reader waiting in next() (or a for-await loop) then simply ends. */
  cancel(): void {
    this.cancelled = true;
    this.queue.length = 0;
    this.notify();
    if (!this.stream.closed) this.stream.close(CANCEL);
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

/** A lazily (re)connected HTTP/2 session to one unix socket: a containerd restart needs no new client. */
export class Channel {
  private session: http2.ClientHttp2Session | undefined;
  private readonly where: string;

  constructor(readonly socketPath: string) {
    this.where = `unix:${socketPath}`;
  }

  private current(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2Lib().connect("http://localhost", {
      createConnection: () => netLib().connect(this.socketPath),
      settings: { initialWindowSize: WINDOW_BYTES },
    });
    session.on("error", () => {
      // each stream reports its own failure; a dead session is replaced on the next call
      if (this.session === session) this.session = undefined;
    });
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
    });
    session.on("connect", () => session.setLocalWindowSize(WINDOW_BYTES));
    this.session = session;
    return session;
  }

  /** Opens a call to /package.Service/Method; send requests on it. */
  open(path: string, opts: CallOptions = {}): Call {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      "user-agent": "minos-containerd-client",
      ...opts.metadata,
    };
    if (opts.timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.current().request(headers);
    } catch (e) {
      throw transportError(e as Error, this.where);
    }
    return new Call(stream, this.where, opts.timeoutMs);
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
    const s = this.session;
    this.session = undefined;
    if (s && !s.closed && !s.destroyed) s.close();
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
