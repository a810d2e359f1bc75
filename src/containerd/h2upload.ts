// The bulk of a content upload on an HTTP/2 connection of its own (our
// client connection, src/api/h2), in 1 MiB WRITEs as ctr's are: grpc-go grants
// window for a whole message once its reader asks for it, and the connection
// sends within the windows (RFC 9113 section 6.9), resolving each send once
// its bytes are on the socket, so input is read no faster than containerd
// takes it.
//
// Only the bytes go this way: STAT, then the WRITEs, then end of stream. The
// session's replies are not read (their window is granted back as they
// arrive); the caller then asks containerd on the shared channel how far the
// ingest got and commits it there, so every verdict (digest refused, size
// wrong, ref locked) arrives as a normal gRPC status with its message.
import { connectUnix } from "../api/h2/connect.ts";
import type { H2Connection, H2Stream } from "../api/h2/connection.ts";
import { CANCEL } from "../api/h2/frames.ts";
import { grpcRequestFields } from "../api/framing.ts";
import { frame, USER_AGENT } from "./grpc.ts";

/** What we let containerd send us (its replies are ~50 bytes per WRITE): far more than an upload's replies. */
const RECEIVE_WINDOW = 16 << 20;
/** An upload whose bytes containerd takes nothing of for this long is given up (containerd stuck): the commit session then reports it. */
const WINDOW_STALL_MS = 60_000;
const SETTINGS = { maxConcurrentStreams: 1, streamWindow: RECEIVE_WINDOW, connectionWindow: RECEIVE_WINDOW, maxHeaderListBytes: 64 * 1024 };

export class UploadError extends Error {
  override name = "UploadError";
}

/**
 * One Content.Write stream on a connection of its own. send() resolves once
 * the message is on the socket; finish() ends the stream and resolves when
 * containerd has closed it; cancel() resets it.
 */
export class RawUpload {
  private readonly ready: Promise<H2Stream | undefined>;
  private conn: H2Connection | undefined;
  private stream: H2Stream | undefined;
  private closedWith: Error | null | undefined; // undefined: open; null: ended cleanly
  private wake: (() => void) | undefined;

  constructor(socketPath: string, path: string, metadata: Record<string, string>) {
    const fields = grpcRequestFields(path, USER_AGENT, metadata);
    this.ready = connectUnix(socketPath, SETTINGS).then(
      (conn) => {
        this.conn = conn;
        if (this.closedWith !== undefined) {
          conn.destroy();
          return undefined;
        }
        const s = conn.request(fields);
        this.stream = s;
        s.onClose(() => {
          if (s.resetCode !== undefined && s.resetByPeer) this.close(new UploadError(`containerd reset the upload stream (code ${s.resetCode})`));
          else if (conn.error) this.close(new UploadError(`containerd upload connection: ${conn.error}`));
          else if (s.remoteEnded) this.close(null);
          else this.close(new UploadError("containerd closed the upload connection"));
        });
        // Replies to STAT and WRITE and the trailers: not read (see the header); containerd ending its side ends the upload.
        s.onEnd = () => this.close(null);
        conn.onClose(() => this.close(new UploadError("containerd closed the upload connection")));
        return s;
      },
      (e: Error) => {
        this.close(new UploadError(`containerd upload connection: ${e.message}`));
        return undefined;
      },
    );
  }

  private close(err: Error | null): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    this.wake?.();
    this.wake = undefined;
  }

  /** True once the stream ended (containerd finished it early: an error status the commit session will report). */
  get over(): boolean {
    return this.closedWith !== undefined;
  }

  private async open(): Promise<H2Stream> {
    const s = this.stream ?? (await this.ready);
    if (!s || this.closedWith !== undefined || !s.accepting) throw this.closedWith ?? new UploadError("containerd ended the upload stream early");
    return s;
  }

  /** Sends one gRPC message (already encoded). */
  async send(message: Uint8Array): Promise<void> {
    await this.sendParts([frame(message)]);
  }

  async sendFramed(m: Uint8Array): Promise<void> {
    await this.sendParts([m]);
  }

  /** Sends the concatenation of `parts` (a framed gRPC message: its head, then its data) as DATA within the windows. */
  async sendParts(parts: Uint8Array[]): Promise<void> {
    const s = await this.open();
    let pending = parts.length;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.wake = () => reject(this.closedWith ?? new UploadError("containerd ended the upload stream early"));
        timer = setTimeout(() => reject(new UploadError(`containerd took none of the upload for ${WINDOW_STALL_MS / 1000} s`)), WINDOW_STALL_MS);
        for (const p of parts)
          s.write(p, () => {
            if (--pending === 0) resolve();
          });
      });
    } finally {
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  /** Ends the request stream and waits until containerd has ended its side. */
  async finish(timeoutMs: number): Promise<void> {
    const s = await this.open().catch((e: Error) => {
      if (this.closedWith === null) return undefined;
      throw e;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (s) s.endData();
      if (this.closedWith === undefined)
        await new Promise<void>((resolve, reject) => {
          this.wake = resolve;
          timer = setTimeout(() => reject(new UploadError(`containerd did not end the upload stream within ${timeoutMs} ms`)), timeoutMs);
        });
      if (this.closedWith) throw this.closedWith;
    } finally {
      clearTimeout(timer);
      this.wake = undefined;
      this.conn?.destroy();
    }
  }

  /** Resets the stream and drops the connection. */
  cancel(): void {
    this.close(null);
    const s = this.stream;
    if (s && !s.closed) s.close(CANCEL);
    const conn = this.conn;
    // The reset goes out before the socket closes.
    if (conn) queueMicrotask(() => queueMicrotask(() => conn.destroy()));
    else void this.ready.then(() => this.conn?.destroy());
  }
}
