// One unary gRPC call on a connection of its own, on our HTTP/2 client
// connection (connect.ts): what PID 1's health checks of containerd need
// (grpc.health.v1.Health/Check every 5 s). Through node:http2 that check
// alone kept node:http2 and node:net loaded in every PID 1 (~5 MiB,
// src/lib/node-libs.ts). A fresh connection per call, closed after: a
// long-lived channel would back off while the socket is still missing.
import { frame, grpcRequestFields } from "../framing.ts";
import { Code } from "../status.ts";
import { ApiError } from "../errors.ts";
import { connectUnix } from "./connect.ts";
import type { H2Connection } from "./connection.ts";
import { headerField, statusFrom } from "./grpc-status.ts";

/** Larger requests are another client's job; a check's are a few bytes. */
const MAX_REQUEST_BYTES = 16 * 1024;
/** A reply larger than this is refused (a health reply is 2 bytes). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const SETTINGS = { maxConcurrentStreams: 1, streamWindow: 1 << 20, connectionWindow: 1 << 20, maxHeaderListBytes: 64 * 1024 };

export interface UnaryOptions {
  timeoutMs: number;
  /** Extra request headers (gRPC metadata), lower-case names. */
  metadata?: Record<string, string>;
}

/** Calls `method` on the gRPC server at a unix socket; resolves to the reply message, rejects with ApiError. */
export async function unaryOverSocket(socketPath: string, method: string, request: Uint8Array, opts: UnaryOptions): Promise<Uint8Array> {
  if (request.length > MAX_REQUEST_BYTES) throw new ApiError(Code.INTERNAL, `request of ${request.length} bytes is over ${MAX_REQUEST_BYTES}`);
  const where = `unix:${socketPath}`;
  let conn: H2Connection | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError(Code.DEADLINE_EXCEEDED, `no answer from ${where} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
  try {
    conn = await Promise.race([
      connectUnix(socketPath, SETTINGS).catch((e: NodeJS.ErrnoException) => {
        throw new ApiError(Code.UNAVAILABLE, e.code === "ENOENT" ? `${where}: no such socket` : `${where}: ${e.message}`);
      }),
      deadline,
    ]);
    return await Promise.race([call(conn, where, grpcRequestFields(method, "minos-health-check", opts.metadata, opts.timeoutMs), request), deadline]);
  } finally {
    clearTimeout(timer);
    conn?.destroy();
  }
}

/** The call on an open connection: the request sent and half-closed, the reply read to its trailers. */
function call(conn: H2Connection, where: string, fields: [string, string][], request: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    if (conn.closed) return reject(new ApiError(Code.UNAVAILABLE, `${where} closed the connection before the reply`));
    const s = conn.request(fields);
    const headers: (readonly [string, string])[] = [];
    const body: Buffer[] = [];
    let bodyBytes = 0;
    s.onHeaders = (block) => headers.push(...block);
    s.onData = (chunk) => {
      bodyBytes += chunk.length;
      if (bodyBytes > MAX_REPLY_BYTES) {
        reject(new ApiError(Code.RESOURCE_EXHAUSTED, `reply from ${where} is over ${MAX_REPLY_BYTES} bytes`));
        s.close();
      } else body.push(chunk);
    };
    s.onEnd = () => {
      const status = headerField(headers, ":status");
      if (status !== "200") return reject(new ApiError(Code.UNAVAILABLE, `HTTP ${status ?? "(none)"} from ${where}`));
      const verdict = statusFrom(headers);
      if (verdict === undefined) return reject(new ApiError(Code.INTERNAL, `${where} ended the call without a status`));
      if (verdict) return reject(verdict);
      const bytes = Buffer.concat(body, bodyBytes);
      resolve(bytes.length < 5 ? new Uint8Array(0) : bytes.subarray(5, 5 + bytes.readUInt32BE(1)));
    };
    // Settled by onEnd when the reply was whole; otherwise the stream or the connection went first.
    s.onClose(() =>
      reject(
        new ApiError(
          Code.UNAVAILABLE,
          s.resetCode !== undefined ? `${where} reset the call (code ${s.resetCode})` : `${where} closed the connection before the reply`,
        ),
      ),
    );
    s.write(frame(request));
    s.endData();
  });
}
