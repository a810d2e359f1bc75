// One unary gRPC call on a connection of its own, over our HTTP/2 frames and
// HPACK and Bun's native socket: what PID 1's health checks of containerd
// need (grpc.health.v1.Health/Check every 5 s). Through node:http2 that
// check alone kept node:http2 and node:net loaded in every PID 1 (~5 MiB,
// src/lib/node-libs.ts), though nothing else on a node without workloads
// talks HTTP/2 as a client. One stream, a small request sent at once (the
// peer's initial window always holds it), the reply read to its trailers,
// window granted back as it arrives, and the connection closed after.
import type { Socket } from "bun";
import { ApiError } from "../transport.ts";
import { frame, grpcRequestFields } from "../framing.ts";
import { CODE_NAMES, Code } from "../status.ts";
import {
  ACK,
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  DEFAULT_MAX_FRAME,
  GOAWAY,
  HEADERS,
  MAX_WINDOW,
  PADDED,
  PING,
  PREFACE,
  PRIORITY_FLAG,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  frameOf,
  headerFrames,
  settingsFrame,
  windowUpdateFrame,
  eachFrame,
} from "./frames.ts";
import { HpackDecoder, encodeHeaders } from "./hpack.ts";

/** Larger requests would need flow control; a unary check's are a few bytes. */
const MAX_REQUEST_BYTES = 16 * 1024;
/** A reply larger than this is refused (a health reply is 2 bytes). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const STREAM = 1;

export interface UnaryOptions {
  timeoutMs: number;
  /** Extra request headers (gRPC metadata), lower-case names. */
  metadata?: Record<string, string>;
}

/** Calls `method` on the gRPC server at a unix socket; resolves to the reply message, rejects with ApiError. */
export function unaryOverSocket(socketPath: string, method: string, request: Uint8Array, opts: UnaryOptions): Promise<Uint8Array> {
  if (request.length > MAX_REQUEST_BYTES) return Promise.reject(new ApiError(Code.INTERNAL, `request of ${request.length} bytes is over ${MAX_REQUEST_BYTES}`));
  const where = `unix:${socketPath}`;
  return new Promise<Uint8Array>((resolve, reject) => {
    const reader = new ReplyReader(where);
    let socket: Socket<undefined> | undefined;
    let settled = false;
    const settle = (err: Error | undefined, reply?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.end();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => settle(new ApiError(Code.DEADLINE_EXCEEDED, `no answer from ${where} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const fields = grpcRequestFields(method, "minos-health-check", opts.metadata, opts.timeoutMs);
    const message = frame(request);
    const opening = Buffer.concat([
      PREFACE,
      settingsFrame([[SETTINGS_ENABLE_PUSH, 0]]),
      headerFrames(STREAM, encodeHeaders(fields), false, 16_384),
      frameOf(DATA, END_STREAM, STREAM, message),
    ]);
    Bun.connect({
      unix: socketPath,
      socket: {
        open(s) {
          socket = s;
          if (settled) return void s.end();
          write(s, opening);
        },
        data(s, chunk: Buffer) {
          if (settled) return;
          try {
            const out = reader.push(chunk);
            if (out.length) write(s, Buffer.concat(out));
            if (reader.done) settle(reader.outcome(), reader.reply());
          } catch (e) {
            settle(e instanceof ApiError ? e : new ApiError(Code.INTERNAL, `${where}: ${(e as Error).message}`));
          }
        },
        close() {
          settle(reader.done ? reader.outcome() : new ApiError(Code.UNAVAILABLE, `${where} closed the connection before the reply`), reader.reply());
        },
        error(_s, e) {
          settle(new ApiError(Code.UNAVAILABLE, `${where}: ${e.message}`));
        },
        connectError(_s, e) {
          const code = (e as NodeJS.ErrnoException).code;
          settle(new ApiError(Code.UNAVAILABLE, code === "ENOENT" ? `${where}: no such socket` : `${where}: ${e.message}`));
        },
      },
    }).catch((e: Error) => {
      const code = (e as NodeJS.ErrnoException).code;
      settle(new ApiError(Code.UNAVAILABLE, code === "ENOENT" ? `${where}: no such socket` : `${where}: ${e.message}`));
    });
  });
}

/** Writes all of `bytes` (the opening and the control replies are small; what the kernel does not take at once is retried). */
function write(s: Socket<undefined>, bytes: Uint8Array): void {
  const n = s.write(bytes);
  if (n >= 0 && n < bytes.length) queueMicrotask(() => write(s, bytes.subarray(n)));
}

/** The server's frames for our one stream: headers, message bytes, trailers; the control frames it asks us to answer. */
class ReplyReader {
  private readonly hpack = new HpackDecoder();
  private inbox: Buffer | undefined;
  private block: Buffer[] | undefined;
  private blockEnds = false;
  private headers: [string, string][] | undefined;
  private trailers: [string, string][] | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  done = false;
  private failure: ApiError | undefined;

  constructor(private readonly where: string) {}

  /** Parses what arrived; returns the frames to send back (SETTINGS and PING acks, window updates). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    const buf = this.inbox ? Buffer.concat([this.inbox, chunk]) : chunk;
    // Frames past the default size are the server's to send only if we had raised it: we did not.
    const at = eachFrame(buf, 0, DEFAULT_MAX_FRAME, (type, flags, stream, p) => {
      this.frame(type, flags, stream, p, out);
      return !this.done;
    });
    this.inbox = at < buf.length ? buf.subarray(at) : undefined;
    return out;
  }

  private frame(type: number, flags: number, stream: number, p: Buffer, out: Buffer[]): void {
    switch (type) {
      case SETTINGS:
        if (!(flags & ACK)) out.push(frameOf(SETTINGS, ACK, 0));
        return;
      case PING:
        if (!(flags & ACK)) out.push(frameOf(PING, ACK, 0, p));
        return;
      case GOAWAY:
        if (p.length >= 8 && (p.readUInt32BE(0) & MAX_WINDOW) < STREAM) this.fail(Code.UNAVAILABLE, `${this.where} went away before the call`);
        return;
      case RST_STREAM:
        if (stream === STREAM) this.fail(Code.UNAVAILABLE, `${this.where} reset the call (code ${p.length >= 4 ? p.readUInt32BE(0) : "?"})`);
        return;
      case HEADERS: {
        if (stream !== STREAM) return;
        let f = unpadded(flags, p);
        if (flags & PRIORITY_FLAG) f = f.subarray(5);
        this.block = [f];
        this.blockEnds = (flags & END_STREAM) !== 0;
        if (flags & END_HEADERS) this.endBlock();
        return;
      }
      case CONTINUATION:
        if (stream !== STREAM || !this.block) return;
        this.block.push(p);
        if (flags & END_HEADERS) this.endBlock();
        return;
      case DATA: {
        if (stream !== STREAM) return;
        const d = unpadded(flags, p);
        this.bodyBytes += d.length;
        if (this.bodyBytes > MAX_REPLY_BYTES) return this.fail(Code.RESOURCE_EXHAUSTED, `reply from ${this.where} is over ${MAX_REPLY_BYTES} bytes`);
        this.body.push(d);
        // Granted back as it comes: a reply is read whole, never held back.
        if (p.length) out.push(windowUpdateFrame(0, p.length), windowUpdateFrame(STREAM, p.length));
        if (flags & END_STREAM) this.done = true;
        return;
      }
      default:
        return;
    }
  }

  private endBlock(): void {
    const fields = this.hpack.decode(Buffer.concat(this.block!));
    this.block = undefined;
    if (!this.headers) this.headers = fields;
    else this.trailers = fields;
    if (this.blockEnds) this.done = true;
  }

  private fail(code: number, message: string): void {
    this.failure ??= new ApiError(code, message);
    this.done = true;
  }

  /** The call's verdict once done: undefined for OK. */
  outcome(): ApiError | undefined {
    if (this.failure) return this.failure;
    const all = [...(this.headers ?? []), ...(this.trailers ?? [])];
    const get = (name: string) => all.find(([n]) => n === name)?.[1];
    const status = get(":status");
    if (status !== "200") return new ApiError(Code.UNAVAILABLE, `HTTP ${status ?? "(none)"} from ${this.where}`);
    const grpcStatus = get("grpc-status");
    if (grpcStatus === undefined) return new ApiError(Code.INTERNAL, `${this.where} ended the call without a status`);
    const code = Number(grpcStatus);
    if (code === Code.OK) return undefined;
    let details = get("grpc-message") ?? "";
    try {
      details = decodeURIComponent(details);
    } catch {
      // not percent-encoded after all
    }
    return new ApiError(code, details || CODE_NAMES[code] || "error");
  }

  /** The one reply message (empty when the server sent none). */
  reply(): Uint8Array {
    const bytes = Buffer.concat(this.body, this.bodyBytes);
    if (bytes.length < 5) return new Uint8Array(0);
    const len = bytes.readUInt32BE(1);
    return bytes.subarray(5, 5 + len);
  }
}

function unpadded(flags: number, p: Buffer): Buffer {
  if (!(flags & PADDED) || p.length === 0) return p;
  const pad = p[0]!;
  return pad < p.length ? p.subarray(1, p.length - pad) : Buffer.alloc(0);
}
