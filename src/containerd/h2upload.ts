// The bulk of a content upload over an HTTP/2 connection of our own, not Bun's
// node:http2: Bun 1.4.5's client strands request DATA that waits for window
// when the peer raises SETTINGS_INITIAL_WINDOW_SIZE (oven-sh/bun#30319), so
// over node:http2 an upload may only send what the window surely holds, in
// messages of a fraction of it (~56 KiB), and containerd pays per message.
// Here flow control is ours (RFC 9113 section 6.9: connection and stream
// windows, SETTINGS deltas, WINDOW_UPDATE), so WRITEs are 1 MiB as ctr's are:
// grpc-go grants window for a whole message once its reader asks for it.
//
// Only the bytes go this way: STAT, then the WRITEs, then end of stream. The
// session's replies and trailers are not decoded; the caller then asks containerd over node:http2 how far the ingest
// got and commits it there, so every verdict (digest refused, size wrong, ref
// locked) arrives as a normal gRPC status with its message.
import type net from "node:net";
import { netLib } from "../lib/node-libs.ts";
import { frame } from "./grpc.ts";
import {
  ACK,
  CANCEL,
  DATA,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  PING,
  PREFACE,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE,
  WINDOW_UPDATE,
  frameOf,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from "../api/h2/frames.ts";
import { encodeHeaders } from "../api/h2/hpack.ts";

/** What we let containerd send us (its replies are ~50 bytes per WRITE): far more than an upload's replies. */
const RECEIVE_WINDOW = 16 << 20;
/** An upload that gets no window for this long is given up (containerd stuck): the commit session then reports it. */
const WINDOW_STALL_MS = 60_000;
const STREAM = 1;

export class UploadError extends Error {
  override name = "UploadError";
}

/**
 * One Content.Write stream on a connection of its own. send() resolves once
 * the message is on the socket (so input is read no faster than containerd
 * takes it); finish() ends the stream and resolves when containerd has closed
 * it; cancel() resets it.
 */
export class RawUpload {
  private readonly socket: net.Socket;
  private connWindow = DEFAULT_WINDOW;
  private streamWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private maxFrame = DEFAULT_MAX_FRAME;
  private received = 0;
  private inbox: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closedWith: Error | null | undefined; // undefined: open; null: ended cleanly
  private drained: (() => void) | undefined;
  private ended = false;

  constructor(socketPath: string, path: string, metadata: Record<string, string>) {
    this.socket = netLib().connect(socketPath);
    this.socket.on("data", (b: Buffer) => this.onData(b));
    this.socket.on("error", (e) => this.close(new UploadError(`containerd upload connection: ${e.message}`)));
    this.socket.on("close", () => this.close(this.ended ? null : new UploadError("containerd closed the upload connection")));
    this.socket.on("drain", () => {
      this.drained?.();
      this.drained = undefined;
    });
    const headers: [string, string][] = [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", "localhost"],
      ["content-type", "application/grpc+proto"],
      ["te", "trailers"],
      ["user-agent", "minos-containerd-client"],
      ...Object.entries(metadata),
    ];
    const block = encodeHeaders(headers);
    this.socket.write(
      Buffer.concat([
        PREFACE,
        settingsFrame([
          [SETTINGS_ENABLE_PUSH, 0],
          [SETTINGS_INITIAL_WINDOW_SIZE, RECEIVE_WINDOW],
        ]),
        windowUpdateFrame(0, RECEIVE_WINDOW - DEFAULT_WINDOW),
        frameOf(HEADERS, END_HEADERS, STREAM, block),
      ]),
    );
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  private close(err: Error | null): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    this.notify();
    this.drained?.();
    this.drained = undefined;
  }

  private onData(b: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, b]) : b;
    while (this.inbox.length >= 9) {
      const len = this.inbox.readUIntBE(0, 3);
      if (this.inbox.length < 9 + len) break;
      const type = this.inbox[3]!;
      const flags = this.inbox[4]!;
      const stream = this.inbox.readUInt32BE(5) & 0x7fffffff;
      const p = this.inbox.subarray(9, 9 + len);
      this.inbox = this.inbox.subarray(9 + len);
      this.onFrame(type, flags, stream, p);
    }
  }

  private onFrame(type: number, flags: number, stream: number, p: Buffer): void {
    switch (type) {
      case SETTINGS:
        if (flags & ACK) return;
        for (let at = 0; at + 6 <= p.length; at += 6) {
          const id = p.readUInt16BE(at);
          const v = p.readUInt32BE(at + 2);
          if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
            // RFC 9113 6.9.2: the change applies to open streams' windows as a delta.
            this.streamWindow += v - this.peerInitialWindow;
            this.peerInitialWindow = v;
          } else if (id === SETTINGS_MAX_FRAME_SIZE) this.maxFrame = v;
        }
        this.socket.write(frameOf(SETTINGS, ACK, 0));
        this.notify();
        return;
      case WINDOW_UPDATE: {
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (stream === 0) this.connWindow += inc;
        else if (stream === STREAM) this.streamWindow += inc;
        this.notify();
        return;
      }
      case PING:
        if (!(flags & ACK)) this.socket.write(frameOf(PING, ACK, 0, p));
        return;
      case DATA:
        // Replies to STAT and WRITE: not read (see the header); their window is returned in bulk.
        this.received += p.length;
        if (this.received >= RECEIVE_WINDOW / 2) {
          this.socket.write(Buffer.concat([windowUpdateFrame(0, this.received), windowUpdateFrame(STREAM, this.received)]));
          this.received = 0;
        }
        if (stream === STREAM && flags & END_STREAM) this.close(null);
        return;
      case HEADERS:
        // Response headers, or trailers with the status: the stream is over either way once END_STREAM is set.
        if (stream === STREAM && flags & END_STREAM) this.close(null);
        return;
      case RST_STREAM:
        if (stream === STREAM) this.close(new UploadError(`containerd reset the upload stream (code ${p.readUInt32BE(0)})`));
        return;
      case GOAWAY:
        this.close(new UploadError(`containerd sent GOAWAY (code ${p.length >= 8 ? p.readUInt32BE(4) : "?"})`));
        return;
      default:
        return; // PRIORITY, CONTINUATION of a header block we do not decode, unknown types
    }
  }

  /** True once the stream ended (containerd finished it early: an error status the commit session will report). */
  get over(): boolean {
    return this.closedWith !== undefined;
  }

  private async room(): Promise<number> {
    const since = Date.now();
    for (;;) {
      if (this.closedWith !== undefined) throw this.closedWith ?? new UploadError("containerd ended the upload stream early");
      const n = Math.min(this.connWindow, this.streamWindow, this.maxFrame);
      if (n > 0) return n;
      const left = WINDOW_STALL_MS - (Date.now() - since);
      if (left <= 0) throw new UploadError(`containerd returned no flow-control window for ${WINDOW_STALL_MS / 1000} s`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
  }

  private async write(b: Buffer): Promise<void> {
    if (this.socket.write(b)) return;
    await new Promise<void>((r) => (this.drained = r));
  }

  /** Sends one gRPC message (already encoded) as DATA frames within the windows. */
  async send(message: Uint8Array): Promise<void> {
    const m = frame(message);
    await this.sendFramed(m);
  }

  async sendFramed(m: Uint8Array): Promise<void> {
    await this.sendParts([m]);
  }

  /**
   * Sends the concatenation of `parts` (a framed gRPC message: its head, then
   * its data) as DATA frames within the windows: as many as they allow at a
   * time laid out in one buffer, so the data is copied once.
   */
  async sendParts(parts: Uint8Array[]): Promise<void> {
    const total = parts.reduce((a, p) => a + p.length, 0);
    let part = 0;
    let partAt = 0;
    const copy = (dst: Buffer, at: number, n: number) => {
      while (n > 0) {
        const src = parts[part]!;
        const k = Math.min(n, src.length - partAt);
        dst.set(partAt === 0 && k === src.length ? src : src.subarray(partAt, partAt + k), at);
        at += k;
        n -= k;
        partAt += k;
        if (partAt === src.length) {
          part++;
          partAt = 0;
        }
      }
    };
    let done = 0;
    while (done < total) {
      const frameMax = await this.room();
      const budget = Math.min(this.connWindow, this.streamWindow, total - done);
      const frames = Math.ceil(budget / frameMax);
      const out = Buffer.allocUnsafe(frames * 9 + budget);
      let at = 0;
      for (let left = budget; left > 0; ) {
        const n = Math.min(frameMax, left);
        writeFrameHeader(out, at, n, DATA, 0, STREAM);
        copy(out, at + 9, n);
        at += 9 + n;
        left -= n;
      }
      this.connWindow -= budget;
      this.streamWindow -= budget;
      done += budget;
      await this.write(out);
    }
  }

  /** Ends the request stream and waits until containerd has ended its side. */
  async finish(timeoutMs: number): Promise<void> {
    this.ended = true;
    if (this.closedWith === undefined) this.socket.write(frameOf(DATA, END_STREAM, STREAM));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((_, rej) => {
      timer = setTimeout(() => rej(new UploadError(`containerd did not end the upload stream within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      while (this.closedWith === undefined) await Promise.race([new Promise<void>((r) => (this.wake = r)), timeout]);
      if (this.closedWith) throw this.closedWith;
    } finally {
      clearTimeout(timer);
      this.socket.destroy();
    }
  }

  /** Resets the stream and drops the connection. */
  cancel(): void {
    this.ended = true;
    if (!this.socket.destroyed) {
      this.socket.end(rstStreamFrame(STREAM, CANCEL));
    }
    this.close(null);
  }
}
