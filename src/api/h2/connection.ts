// One HTTP/2 connection (RFC 9113): the server side for the machine API's
// gRPC server, and the client side for PID 1's containerd client. PID 1 used Bun's node:http2 for this; that module and node:net
// under it cost PID 1 ~8 MiB after the first call (a bare Bun program: 35.0
// MiB with a node:http2 server on a unix socket, 26.7 with Bun.listen), and
// its flush path was most of the API's p99 tail (README "Where the remaining
// cost is"). This is the subset a gRPC server needs, over any byte pipe
// (listener.ts gives it Bun's sockets):
// - the preface and SETTINGS exchange; PING answered; GOAWAY both ways;
// - streams opened by the client's HEADERS (+ CONTINUATION), refused past
//   the concurrent-stream cap, reset both ways;
// - flow control both ways (section 6.9): what we send waits for the peer's
//   windows, and what we receive is granted back only once the stream's
//   reader took it, so a paused reader holds the sender in its window;
// - the protocol errors a hostile or broken peer can cause end the stream
//   or the connection (with GOAWAY), never PID 1.
// As a client (role "client") it opens streams with request(); the peer's
// HEADERS then carry each stream's response headers and trailers.
// Not offered: server push, priorities (parsed and ignored).
import { HpackDecoder, HpackError, encodeHeaders } from "./hpack.ts";
import {
  ACK,
  CANCEL,
  COMPRESSION_ERROR,
  CONTINUATION,
  DATA,
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  ENHANCE_YOUR_CALM,
  FLOW_CONTROL_ERROR,
  FRAME_HEADER_BYTES,
  FRAME_SIZE_ERROR,
  GOAWAY,
  INTERNAL_ERROR,
  HEADERS,
  MAX_WINDOW,
  NO_ERROR,
  PADDED,
  PING,
  PREFACE,
  PRIORITY,
  PRIORITY_FLAG,
  PROTOCOL_ERROR,
  PUSH_PROMISE,
  REFUSED_STREAM,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  STREAM_CLOSED,
  WINDOW_UPDATE,
  frameOf,
  goawayFrame,
  headerFrames,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
  eachFrame,
  FrameTooLong,
} from "./frames.ts";

/** The byte pipe under a connection (a Bun socket, or a test's). */
export interface Wire {
  /** Writes what the kernel takes now; returns the bytes taken (negative: the socket is gone). */
  write(bytes: Uint8Array): number;
  /** Closes after what was written. */
  end(): void;
  /** Closes now. */
  terminate(): void;
}

export interface ConnectionSettings {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce and enforce. */
  maxConcurrentStreams: number;
  /** What each stream may send us before its reader took it (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow: number;
  /** What the whole connection may send us before its readers took it. */
  connectionWindow: number;
  /** Largest decoded request header list (SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderListBytes: number;
}

export const CONNECTION_DEFAULTS: ConnectionSettings = {
  maxConcurrentStreams: 100,
  streamWindow: 1 << 20,
  connectionWindow: 4 << 20,
  maxHeaderListBytes: 64 * 1024,
};

/** A request's headers by name; a name sent twice has its values in order. */
export type RequestHeaders = Record<string, string | string[]>;

/** Header fields to send, in order. */
export type HeaderFields = readonly (readonly [string, string])[];

/** DATA we frame while the socket holds less than this (more waits in the streams, within their windows). */
const WRITE_HIGH_WATER = 256 * 1024;
/** Unsent bytes past which a peer that never reads is cut (only control frames can get there). */
const UNSENT_LIMIT = 8 << 20;
/** A header block (HEADERS + CONTINUATION) longer than this ends the connection. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** What one stream may frame before the next stream with data gets its turn. */
const QUANTUM = 64 * 1024;
/** CONTINUATION frames one header block may take (empty ones would otherwise cost memory forever: CVE-2024-27316's class). */
const MAX_CONTINUATIONS = 64;
/** Closed streams remembered, so late frames on them are told apart from a protocol error (RFC 9113 section 5.1, "closed"). */
const CLOSED_MEMORY = 128;
/** Streams a client may reset within RESET_WINDOW_MS before the connection is ended ("rapid reset", CVE-2023-44487). */
const MAX_RESETS = 1000;
const RESET_WINDOW_MS = 1000;
/** How long a connection that broke the protocol is read (and dropped) after its GOAWAY. */
const LINGER_MS = 250;

/** How a stream ended, for frames that arrive after it. */
type ClosedAs = "reset-here" | "reset-there" | "ended";

let nextId = 1;

/** One queued piece of a stream's response body, and what to call once it is on the socket. */
interface Outgoing {
  data: Uint8Array;
  at: number;
  onWritten: (() => void) | undefined;
}

/** Unsent bytes and the callbacks of the frames that end in them. */
interface Unsent {
  bytes: Uint8Array;
  callbacks: (() => void)[] | undefined;
}

export class H2Stream {
  /** Response body queued for the peer's window. */
  private readonly queue: Outgoing[] = [];
  private queued = 0;
  /** Trailers (a header block) to send once the queue is empty. */
  private trailers: Uint8Array | undefined;
  private inbox: Buffer[] = [];
  private endPending = false;
  private paused = false;
  /** Received bytes the reader took and we have not granted back yet. */
  private taken = 0;
  private closeFns: (() => void)[] = [];
  sendWindow: number;
  recvWindow: number;
  /** The client half-closed (END_STREAM received). */
  remoteEnded = false;
  /** Our END_STREAM is framed (or the stream was reset). */
  localEnded = false;
  closed = false;
  responded = false;
  /** RST_STREAM's code when the stream was reset (by either side). */
  resetCode: number | undefined;
  /** The client reset it (not us). */
  resetByPeer = false;
  /** Request body bytes as they arrive (called with nothing buffered while paused). */
  onData: ((chunk: Buffer) => void) | undefined;
  /** The client half-closed, after every onData. */
  onEnd: (() => void) | undefined;
  /** A client's stream: the response headers, then the trailers (each header block the server sent on it). */
  onHeaders: ((fields: [string, string][]) => void) | undefined;
  /** A client's stream: END_STREAM goes out once the queued body is sent. */
  private finPending = false;

  constructor(
    readonly connection: H2Connection,
    readonly id: number,
    readonly headers: RequestHeaders,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** fn runs once the stream is closed: both sides ended, reset, or the connection gone. */
  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else this.closeFns.push(fn);
  }

  /** Sends response headers (an encoded block); endStream makes it trailers-only. */
  respondBlock(block: Uint8Array, endStream: boolean): void {
    if (this.closed || this.responded) return;
    this.responded = true;
    this.connection.send(headerFrames(this.id, block, endStream, this.connection.peerMaxFrame));
    if (endStream) this.endedLocally();
  }

  respond(fields: HeaderFields, endStream: boolean): void {
    this.respondBlock(encodeHeaders(fields), endStream);
  }

  /**
   * Queues body bytes; onWritten runs once they are on the socket. False
   * when they wait (the peer's window, or a full socket): more can be
   * queued, but the caller should wait for onWritten.
   */
  write(data: Uint8Array, onWritten?: () => void): boolean {
    if (this.closed || this.localEnded || this.trailers || this.finPending) return false;
    this.queue.push({ data, at: 0, onWritten });
    this.queued += data.length;
    this.connection.pump(this);
    return this.queued === 0 && this.connection.writable;
  }

  /** Ends the response: `last` (if any), then the trailers (an encoded block) with END_STREAM. */
  endBlock(trailers: Uint8Array, last?: Uint8Array): void {
    if (this.closed || this.localEnded || this.trailers) return;
    if (last?.length) {
      this.queue.push({ data: last, at: 0, onWritten: undefined });
      this.queued += last.length;
    }
    this.trailers = trailers;
    this.connection.pump(this);
  }

  /** Whether write() takes more (not closed, not ended, no trailers or END_STREAM queued). */
  get accepting(): boolean {
    return !this.closed && !this.localEnded && !this.trailers && !this.finPending;
  }

  /** A client's half-close: END_STREAM (an empty DATA frame) after the queued body. */
  endData(): void {
    if (this.closed || this.localEnded || this.finPending) return;
    this.finPending = true;
    this.connection.pump(this);
  }

  /** Resets the stream (RST_STREAM with `code`). */
  close(code: number = CANCEL): void {
    if (this.closed) return;
    this.connection.send(rstStreamFrame(this.id, code));
    this.resetCode = code;
    this.finish();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Holds request bytes here (and the sender in its window) until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.inbox;
    this.inbox = [];
    for (const chunk of held) {
      if (this.paused) {
        this.inbox.push(chunk);
        continue;
      }
      this.deliver(chunk);
    }
    if (!this.paused && this.endPending) {
      this.endPending = false;
      this.onEnd?.();
    }
  }

  // ---- for the connection ----

  received(chunk: Buffer): void {
    if (this.paused || this.inbox.length) this.inbox.push(chunk);
    else this.deliver(chunk);
  }

  private deliver(chunk: Buffer): void {
    this.grant(chunk.length);
    if (chunk.length) this.onData?.(chunk);
  }

  /** Gives back window for bytes the reader took (half a window at a time: fewer WINDOW_UPDATEs). */
  grant(n: number): void {
    this.connection.granted(n);
    if (this.remoteEnded || this.closed) return;
    this.taken += n;
    if (this.taken >= this.connection.settings.streamWindow / 2) {
      this.connection.send(windowUpdateFrame(this.id, this.taken));
      this.recvWindow += this.taken;
      this.taken = 0;
    }
  }

  remoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    if (this.paused || this.inbox.length) this.endPending = true;
    else this.onEnd?.();
    if (this.localEnded) this.finish();
  }

  /** Frames as much queued body as the windows and `budget` allow; the trailers once it is all out. */
  frameSome(budget: number): number {
    let framed = 0;
    const conn = this.connection;
    while (this.queue.length && !this.closed) {
      const room = Math.min(this.sendWindow, conn.sendWindow, budget - framed);
      if (room <= 0) break;
      const head = this.queue[0]!;
      const left = head.data.length - head.at;
      const n = Math.min(left, room);
      const frames = Math.ceil(n / conn.peerMaxFrame);
      const out = Buffer.allocUnsafe(frames * FRAME_HEADER_BYTES + n);
      let at = 0;
      for (let from = head.at, rest = n; rest > 0; ) {
        const k = Math.min(conn.peerMaxFrame, rest);
        writeFrameHeader(out, at, k, DATA, 0, this.id);
        out.set(head.data.subarray(from, from + k), at + FRAME_HEADER_BYTES);
        at += FRAME_HEADER_BYTES + k;
        from += k;
        rest -= k;
      }
      head.at += n;
      this.sendWindow -= n;
      conn.sendWindow -= n;
      this.queued -= n;
      framed += n;
      const done = head.at === head.data.length;
      if (done) this.queue.shift();
      conn.send(out, done ? head.onWritten : undefined);
    }
    if (!this.queue.length && this.trailers && !this.closed) {
      const block = this.trailers;
      this.trailers = undefined;
      conn.send(headerFrames(this.id, block, true, conn.peerMaxFrame));
      this.endedLocally();
    }
    if (!this.queue.length && this.finPending && !this.closed) {
      this.finPending = false;
      conn.send(frameOf(DATA, END_STREAM, this.id));
      this.endedLocally();
    }
    return framed;
  }

  get wantsToSend(): boolean {
    return !this.closed && (this.queue.length > 0 || this.trailers !== undefined || this.finPending);
  }

  private endedLocally(): void {
    this.localEnded = true;
    if (this.remoteEnded) this.finish();
  }

  /** The stream is over: drop what it holds and tell its watchers. */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.localEnded = true;
    // What the peer sent and nobody will read is granted back to the connection.
    let held = 0;
    for (const c of this.inbox) held += c.length;
    this.inbox = [];
    if (held) this.connection.granted(held);
    this.queue.length = 0;
    this.queued = 0;
    this.trailers = undefined;
    this.connection.forget(this);
    const fns = this.closeFns;
    this.closeFns = [];
    runAll(fns);
  }
}

/** Raised inside frame handling: the connection ends with GOAWAY and this code. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class H2Connection {
  readonly id = `conn-${nextId++}`;
  readonly streams = new Map<number, H2Stream>();
  /** The verified client certificate's subject fields (mutual TLS), set by the listener. */
  peer: Record<string, string | string[]> | undefined;
  /** Called for every new stream, with its headers. */
  onStream: ((stream: H2Stream) => void) | undefined;
  /** Set once GOAWAY went either way or the connection is gone: no new streams. */
  closed = false;
  destroyed = false;
  /** Why the connection ended with a protocol error (for tests and diagnostics). */
  error: string | undefined;

  sendWindow = DEFAULT_WINDOW;
  peerMaxFrame = DEFAULT_MAX_FRAME;
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: what each new stream may send it before a WINDOW_UPDATE. */
  get peerStreamWindow(): number {
    return this.peerInitialWindow;
  }
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (a client's limit on request()). */
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private peerInitialWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private recvTaken = 0;
  private readonly hpack: HpackDecoder;
  private inbox: Buffer | undefined;
  private prefaceSeen = false;
  private settingsSeen = false;
  private lastStream = 0;
  /** A header block being assembled from HEADERS + CONTINUATION. */
  private block: { stream: number; flags: number; parts: Buffer[]; bytes: number } | undefined;
  private readonly closedStreams = new Map<number, ClosedAs>();
  private resets = 0;
  private resetsSince = 0;
  private pending: Uint8Array[] = [];
  private pendingCallbacks: (() => void)[] | undefined;
  private flushScheduled = false;
  private unsent: Unsent[] = [];
  private unsentBytes = 0;
  private readonly sending = new Set<H2Stream>();
  private pings: { payload: string; fn: (err: Error | null) => void }[] = [];
  private pingCount = 0;
  private closeFns: (() => void)[] = [];
  private endWhenIdle = false;
  /** After a protocol error: input is dropped until the socket closes. */
  private lingering = false;

  constructor(
    private readonly wire: Wire,
    readonly settings: ConnectionSettings = CONNECTION_DEFAULTS,
    readonly role: "server" | "client" = "server",
  ) {
    this.hpack = new HpackDecoder(4096, settings.maxHeaderListBytes);
    this.recvWindow = settings.connectionWindow;
    // A server sends no preface of its own, only SETTINGS.
    if (role === "client") this.prefaceSeen = true;
  }

  /** Sends our preface: SETTINGS and the connection window (RFC 9113 section 3.4); a client's starts with the magic. */
  start(): void {
    if (this.role === "client") this.send(PREFACE);
    this.send(
      settingsFrame(
        this.role === "client"
          ? [
              [SETTINGS_ENABLE_PUSH, 0],
              [SETTINGS_INITIAL_WINDOW_SIZE, this.settings.streamWindow],
              [SETTINGS_MAX_HEADER_LIST_SIZE, this.settings.maxHeaderListBytes],
            ]
          : [
              [SETTINGS_MAX_CONCURRENT_STREAMS, this.settings.maxConcurrentStreams],
              [SETTINGS_INITIAL_WINDOW_SIZE, this.settings.streamWindow],
              [SETTINGS_MAX_HEADER_LIST_SIZE, this.settings.maxHeaderListBytes],
            ],
      ),
    );
    if (this.settings.connectionWindow > DEFAULT_WINDOW) this.send(windowUpdateFrame(0, this.settings.connectionWindow - DEFAULT_WINDOW));
  }

  onClose(fn: () => void): void {
    if (this.destroyed) queueMicrotask(fn);
    else this.closeFns.push(fn);
  }

  /** Whether the socket takes more now (DATA beyond it waits in the streams). */
  get writable(): boolean {
    return this.unsentBytes < WRITE_HIGH_WATER;
  }

  // ---- input ----

  /** Bytes from the socket. */
  receive(chunk: Buffer): void {
    if (this.destroyed || this.lingering) return;
    const buf = this.inbox ? Buffer.concat([this.inbox, chunk]) : chunk;
    this.inbox = undefined;
    let at = 0;
    try {
      if (!this.prefaceSeen) {
        const n = Math.min(buf.length, PREFACE.length);
        if (!buf.subarray(0, n).equals(PREFACE.subarray(0, n))) throw new ConnectionError(PROTOCOL_ERROR, "not an HTTP/2 connection preface");
        if (buf.length < PREFACE.length) {
          this.inbox = buf;
          return;
        }
        this.prefaceSeen = true;
        at = PREFACE.length;
      }
      at = eachFrame(buf, at, DEFAULT_MAX_FRAME, this.onFrame);
    } catch (e) {
      if (e instanceof FrameTooLong) return this.fail(FRAME_SIZE_ERROR, e.message);
      if (e instanceof ConnectionError) return this.fail(e.code, e.message);
      if (e instanceof HpackError) return this.fail(COMPRESSION_ERROR, e.message);
      return this.fail(INTERNAL_ERROR, (e as Error).message);
    }
    if (at < buf.length && !this.destroyed && !this.lingering) this.inbox = at === 0 ? buf : buf.subarray(at);
  }

  /** eachFrame's callback, made once (receive() runs for every chunk the socket delivers). */
  private readonly onFrame = (type: number, flags: number, stream: number, payload: Buffer): boolean => {
    this.frame(type, flags, stream, payload);
    return !this.destroyed && !this.lingering;
  };

  private frame(type: number, flags: number, stream: number, p: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== SETTINGS || flags & ACK) throw new ConnectionError(PROTOCOL_ERROR, "the client's first frame was not SETTINGS");
      this.settingsSeen = true;
    }
    if (this.block && (type !== CONTINUATION || stream !== this.block.stream))
      throw new ConnectionError(PROTOCOL_ERROR, "a header block was interrupted by another frame");
    switch (type) {
      case DATA:
        return this.onDataFrame(flags, stream, p);
      case HEADERS:
        return this.onHeadersFrame(flags, stream, p);
      case PRIORITY:
        if (stream === 0) throw new ConnectionError(PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (p.length !== 5) this.resetStream(stream, FRAME_SIZE_ERROR);
        return;
      case RST_STREAM:
        return this.onReset(stream, p);
      case SETTINGS:
        return this.onSettings(flags, stream, p);
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, "a client sent PUSH_PROMISE");
      case PING:
        return this.onPing(flags, stream, p);
      case GOAWAY: {
        if (stream !== 0) throw new ConnectionError(PROTOCOL_ERROR, "GOAWAY on a stream");
        if (p.length < 8) throw new ConnectionError(FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes");
        this.closed = true;
        // A server's GOAWAY names the last stream it will process: ours after it were not started, and may be retried.
        if (this.role === "client") {
          const last = p.readUInt32BE(0) & MAX_WINDOW;
          for (const s of [...this.streams.values()])
            if (s.id > last) {
              s.resetCode = REFUSED_STREAM;
              s.resetByPeer = true;
              s.finish();
            }
        }
        if (this.streams.size === 0) this.endSoon();
        return;
      }
      case WINDOW_UPDATE:
        return this.onWindowUpdate(stream, p);
      case CONTINUATION:
        return this.onContinuation(flags, stream, p);
      default:
        return; // unknown frame types are ignored (RFC 9113 section 4.1)
    }
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "DATA on stream 0");
    this.recvWindow -= p.length;
    if (this.recvWindow < 0) throw new ConnectionError(FLOW_CONTROL_ERROR, "the client sent past the connection's window");
    const data = unpad(flags, p);
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastStream) throw new ConnectionError(PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      // A closed stream's bytes are dropped and granted back. Ones the client
      // sent before our reset reached it are expected; after its own reset
      // they are a stream error; after its END_STREAM, a connection error.
      this.granted(p.length);
      const how = this.closedStreams.get(id);
      if (how === "reset-there") this.send(rstStreamFrame(id, STREAM_CLOSED));
      else if (how === "ended") throw new ConnectionError(STREAM_CLOSED, `DATA on closed stream ${id}`);
      return;
    }
    if (s.remoteEnded) {
      this.granted(p.length);
      return this.resetStream(id, STREAM_CLOSED);
    }
    s.recvWindow -= p.length;
    if (s.recvWindow < 0) {
      this.granted(p.length);
      return this.resetStream(id, FLOW_CONTROL_ERROR);
    }
    // Padding is nobody's to read: granted back at once.
    if (p.length > data.length) s.grant(p.length - data.length);
    s.received(data);
    if (flags & END_STREAM) s.remoteEnd();
  }

  private onHeadersFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "HEADERS on stream 0");
    let fragment = unpad(flags, p);
    if (flags & PRIORITY_FLAG) {
      if (fragment.length < 5) throw new ConnectionError(FRAME_SIZE_ERROR, "HEADERS too short for its priority");
      fragment = fragment.subarray(5);
    }
    if (flags & END_HEADERS) return this.onHeaderBlock(id, flags, fragment);
    this.block = { stream: id, flags, parts: [fragment], bytes: fragment.length };
  }

  private onContinuation(flags: number, id: number, p: Buffer): void {
    const b = this.block;
    if (!b) throw new ConnectionError(PROTOCOL_ERROR, "CONTINUATION without HEADERS");
    b.parts.push(p);
    b.bytes += p.length;
    if (b.bytes > MAX_HEADER_BLOCK) throw new ConnectionError(ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK} bytes`);
    if (b.parts.length > MAX_CONTINUATIONS) throw new ConnectionError(ENHANCE_YOUR_CALM, `header block in over ${MAX_CONTINUATIONS} CONTINUATION frames`);
    if (!(flags & END_HEADERS)) return;
    this.block = undefined;
    this.onHeaderBlock(id, b.flags, Buffer.concat(b.parts, b.bytes));
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    // Decoded whatever becomes of the stream: the dynamic table is the connection's.
    const fields = this.hpack.decode(block);
    if (this.role === "client") return this.onResponseBlock(id, flags, fields);
    const existing = this.streams.get(id);
    if (existing) {
      if (existing.remoteEnded) return this.resetStream(id, STREAM_CLOSED);
      // Trailers from the client: they must end its side.
      if (!(flags & END_STREAM)) return this.resetStream(id, PROTOCOL_ERROR);
      return existing.remoteEnd();
    }
    if (id <= this.lastStream) {
      const how = this.closedStreams.get(id);
      // Sent before our reset reached the client: ignored (the block was decoded above, for the table).
      if (how === "reset-here") return;
      if (how === "reset-there") return this.send(rstStreamFrame(id, STREAM_CLOSED));
      if (how === "ended") throw new ConnectionError(STREAM_CLOSED, `HEADERS on closed stream ${id}`);
      throw new ConnectionError(PROTOCOL_ERROR, `stream ${id} opened after stream ${this.lastStream}`);
    }
    if (id % 2 === 0) throw new ConnectionError(PROTOCOL_ERROR, `a client opened even stream ${id}`);
    this.lastStream = id;
    if (this.closed) return this.refuse(id, REFUSED_STREAM);
    if (this.streams.size >= this.settings.maxConcurrentStreams) return this.refuse(id, REFUSED_STREAM);
    const headers = requestHeaders(fields);
    if (!headers) return this.refuse(id, PROTOCOL_ERROR);
    const s = new H2Stream(this, id, headers, this.peerInitialWindow, this.settings.streamWindow);
    this.streams.set(id, s);
    this.onStream?.(s);
    if (flags & END_STREAM) s.remoteEnd();
  }

  /** A client's view of HEADERS: response headers or trailers of a stream it opened. */
  private onResponseBlock(id: number, flags: number, fields: [string, string][]): void {
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastStream || id % 2 === 0) throw new ConnectionError(PROTOCOL_ERROR, `HEADERS on stream ${id}, which this client never opened`);
      return; // a stream we reset or finished: late, ignored
    }
    if (s.remoteEnded) return this.resetStream(id, STREAM_CLOSED);
    s.onHeaders?.(fields);
    if (flags & END_STREAM) s.remoteEnd();
  }

  /**
   * A client's new stream: HEADERS with `fields` go out now; the body is
   * written to the stream, endData() half-closes it. Throws when the
   * connection takes no new streams (GOAWAY, closed, the peer's cap).
   */
  request(fields: HeaderFields): H2Stream {
    if (this.role !== "client") throw new Error("request() is a client's");
    if (this.closed || this.destroyed) throw new Error("the HTTP/2 connection is closed");
    if (this.streams.size >= this.peerMaxStreams) throw new Error(`the server allows ${this.peerMaxStreams} concurrent streams`);
    const id = this.lastStream === 0 ? 1 : this.lastStream + 2;
    if (id > MAX_WINDOW) {
      // Stream ids are spent: this connection ends with its last streams, the next call opens another.
      this.close();
      throw new Error("the HTTP/2 connection used up its stream ids");
    }
    this.lastStream = id;
    const s = new H2Stream(this, id, {}, this.peerInitialWindow, this.settings.streamWindow);
    s.responded = true;
    this.streams.set(id, s);
    this.send(headerFrames(id, encodeHeaders(fields), false, this.peerMaxFrame));
    return s;
  }

  private onReset(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "RST_STREAM of the wrong size");
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (id > this.lastStream) throw new ConnectionError(PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    const now = Date.now();
    if (now - this.resetsSince > RESET_WINDOW_MS) {
      this.resetsSince = now;
      this.resets = 0;
    }
    if (++this.resets > MAX_RESETS) throw new ConnectionError(ENHANCE_YOUR_CALM, `over ${MAX_RESETS} streams reset within ${RESET_WINDOW_MS} ms`);
    const s = this.streams.get(id);
    if (!s) return;
    s.resetCode = p.readUInt32BE(0);
    s.resetByPeer = true;
    s.finish();
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & ACK) {
      if (p.length) throw new ConnectionError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (p.length % 6) throw new ConnectionError(FRAME_SIZE_ERROR, "SETTINGS of the wrong size");
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === SETTINGS_ENABLE_PUSH && value > 1) throw new ConnectionError(PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH must be 0 or 1");
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1");
        // The change applies to every open stream's window as a delta (RFC 9113 section 6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE took stream ${s.id}'s window over 2^31-1`);
        }
      } else if (key === SETTINGS_MAX_CONCURRENT_STREAMS) {
        this.peerMaxStreams = value;
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 0xffffff) throw new ConnectionError(PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range");
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder never indexes, so any size suits it; the rest concern a client.
    }
    this.send(frameOf(SETTINGS, ACK, 0));
    this.pumpAll();
  }

  private onPing(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, "PING on a stream");
    if (p.length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, "PING of the wrong size");
    if (!(flags & ACK)) return this.send(frameOf(PING, ACK, 0, p));
    const key = p.toString("latin1");
    const i = this.pings.findIndex((x) => x.payload === key);
    if (i < 0) return;
    const [done] = this.pings.splice(i, 1);
    done!.fn(null);
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong size");
    const inc = p.readUInt32BE(0) & MAX_WINDOW;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection");
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, "the connection's window went over 2^31-1");
      return this.pumpAll();
    }
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastStream) throw new ConnectionError(PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
      return;
    }
    if (inc === 0) return this.resetStream(id, PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.resetStream(id, FLOW_CONTROL_ERROR);
    this.pump(s);
  }

  private resetStream(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s) s.close(code);
    else this.refuse(id, code);
  }

  /** Resets a stream that never got an H2Stream (refused, malformed). */
  private refuse(id: number, code: number): void {
    this.send(rstStreamFrame(id, code));
    this.remember(id, "reset-here");
  }

  private remember(id: number, how: ClosedAs): void {
    this.closedStreams.set(id, how);
    if (this.closedStreams.size > CLOSED_MEMORY) this.closedStreams.delete(this.closedStreams.keys().next().value!);
  }

  // ---- flow control ----

  /** Window back for bytes a reader took (or that were dropped). */
  granted(n: number): void {
    if (this.destroyed || n === 0) return;
    this.recvTaken += n;
    if (this.recvTaken >= this.settings.connectionWindow / 2) {
      this.send(windowUpdateFrame(0, this.recvTaken));
      this.recvWindow += this.recvTaken;
      this.recvTaken = 0;
    }
  }

  /** Frames what `s` has queued, as far as the windows and the socket allow. */
  pump(s: H2Stream): void {
    if (this.destroyed) return;
    if (this.writable) s.frameSome(Number.POSITIVE_INFINITY);
    if (s.wantsToSend) this.sending.add(s);
    else this.sending.delete(s);
  }

  /** Gives every stream with queued data its turn, a quantum at a time, while the socket takes more. */
  private pumpAll(): void {
    while (this.sending.size && this.writable && !this.destroyed) {
      let progress = false;
      for (const s of [...this.sending]) {
        if (!this.writable) break;
        const hadTrailers = s.wantsToSend;
        if (s.frameSome(QUANTUM) > 0) progress = true;
        if (!s.wantsToSend) {
          this.sending.delete(s);
          if (hadTrailers) progress = true;
        }
      }
      if (!progress) break;
    }
  }

  /** A stream is over: it leaves the table; a closing connection ends with its last stream. */
  forget(s: H2Stream): void {
    this.streams.delete(s.id);
    this.remember(s.id, s.resetCode === undefined ? "ended" : s.resetByPeer ? "reset-there" : "reset-here");
    this.sending.delete(s);
    if (this.streams.size === 0 && (this.closed || this.endWhenIdle) && !this.lingering) this.endSoon();
  }

  // ---- output ----

  /** Queues bytes for the socket (written at the end of this turn, in one write); onWritten once they are on it. */
  send(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.destroyed) return;
    this.pending.push(bytes);
    if (onWritten) (this.pendingCallbacks ??= []).push(onWritten);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.destroyed || !this.pending.length) return;
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const callbacks = this.pendingCallbacks;
    this.pending = [];
    this.pendingCallbacks = undefined;
    if (this.unsent.length) {
      this.unsent.push({ bytes, callbacks });
      this.unsentBytes += bytes.length;
    } else {
      const n = this.wire.write(bytes);
      if (n < 0) return this.socketClosed();
      if (n === bytes.length) runAll(callbacks);
      else {
        this.unsent.push({ bytes: bytes.subarray(n), callbacks });
        this.unsentBytes += bytes.length - n;
      }
    }
    if (this.unsentBytes > UNSENT_LIMIT) {
      this.error = `the client read nothing of ${this.unsentBytes} bytes`;
      this.destroy();
    }
  }

  /** The socket takes more: what waited goes, then the streams get their turn. */
  drain(): void {
    while (this.unsent.length && !this.destroyed) {
      const head = this.unsent[0]!;
      const n = this.wire.write(head.bytes);
      if (n < 0) return this.socketClosed();
      this.unsentBytes -= Math.max(0, n);
      if (n < head.bytes.length) {
        head.bytes = head.bytes.subarray(n);
        return;
      }
      this.unsent.shift();
      runAll(head.callbacks);
    }
    if (this.endWhenIdle && this.streams.size === 0 && !this.unsent.length) return this.endSoon();
    this.pumpAll();
  }

  // ---- lifecycle ----

  /**
   * Sends a PING; fn(null) once the peer acknowledged it (it answers in
   * order, so it has read everything sent before), fn(error) if the
   * connection ends first. False when the connection is gone.
   */
  ping(fn: (err: Error | null) => void): boolean {
    if (this.destroyed) return false;
    const payload = Buffer.allocUnsafe(8);
    payload.writeUInt32BE(0x6d696e6f, 0); // "mino"
    payload.writeUInt32BE(++this.pingCount >>> 0, 4);
    this.pings.push({ payload: payload.toString("latin1"), fn });
    this.send(frameOf(PING, 0, 0, payload));
    return true;
  }

  /** Graceful close: GOAWAY, open streams finish, then the socket closes. */
  close(): void {
    if (this.destroyed) return;
    if (!this.closed) {
      this.closed = true;
      this.send(goawayFrame(this.peerOpenedLast(), NO_ERROR));
    }
    this.endWhenIdle = true;
    if (this.streams.size === 0) this.endSoon();
  }

  /** GOAWAY's last stream: the highest the peer opened (a server pushes nothing to us, so a client's is 0). */
  private peerOpenedLast(): number {
    return this.role === "client" ? 0 : this.lastStream;
  }

  /** Ends the socket once what is queued went out. */
  private endSoon(): void {
    this.endWhenIdle = true;
    if (this.destroyed) return;
    queueMicrotask(() => {
      if (this.destroyed) return;
      this.flush();
      if (this.unsent.length) return; // drain() comes back here
      this.wire.end();
    });
  }

  /**
   * A protocol error: GOAWAY with its code, then the connection ends. What
   * the peer still sends meanwhile is read and dropped for LINGER_MS: closing
   * at once, with its bytes unread, could make its side fail on a write
   * before it read why.
   */
  private fail(code: number, message: string): void {
    if (this.destroyed || this.lingering) return;
    this.error = message;
    this.closed = true;
    this.lingering = true;
    this.inbox = undefined;
    this.block = undefined;
    this.send(goawayFrame(this.peerOpenedLast(), code, message));
    this.flush();
    for (const st of [...this.streams.values()]) st.finish();
    setTimeout(() => this.destroy(), LINGER_MS);
  }

  /** Closes the socket now; open streams are cancelled. */
  destroy(): void {
    if (this.destroyed) return;
    this.wire.terminate();
    this.socketClosed();
  }

  /** The socket is gone (closed by either side). */
  socketClosed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    this.pending = [];
    this.pendingCallbacks = undefined;
    this.unsent = [];
    this.unsentBytes = 0;
    for (const s of [...this.streams.values()]) s.finish();
    const pings = this.pings;
    this.pings = [];
    for (const p of pings) p.fn(new Error("connection closed"));
    const fns = this.closeFns;
    this.closeFns = [];
    runAll(fns);
  }
}

/** Runs callbacks (writers', watchers'); one that throws does not stop the rest, nor the connection. */
function runAll(fns: (() => void)[] | undefined): void {
  if (!fns) return;
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // a callback's failure is its own
    }
  }
}

/** A DATA or HEADERS payload without its padding (RFC 9113 section 6.1). */
function unpad(flags: number, p: Buffer): Buffer {
  if (!(flags & PADDED)) return p;
  if (p.length < 1) throw new ConnectionError(PROTOCOL_ERROR, "padded frame without a pad length");
  const pad = p[0]!;
  if (pad >= p.length) throw new ConnectionError(PROTOCOL_ERROR, "padding longer than the frame");
  return p.subarray(1, p.length - pad);
}

/**
 * A request's fields as headers, or undefined for a malformed request
 * (RFC 9113 section 8.3: upper-case names, pseudo-headers after regular
 * ones or unknown, connection-specific fields, no :method or :path).
 */
function requestHeaders(fields: [string, string][]): RequestHeaders | undefined {
  const out: RequestHeaders = {};
  let regular = false;
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a) {
      if (regular || !PSEUDO.has(name) || name in out) return undefined;
    } else {
      regular = true;
      if (name !== name.toLowerCase() || CONNECTION_SPECIFIC.has(name)) return undefined;
      if (name === "te" && value !== "trailers") return undefined;
    }
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (typeof had === "string") out[name] = [had, value];
    else had.push(value);
  }
  if (typeof out[":method"] !== "string" || typeof out[":path"] !== "string") return undefined;
  return out;
}

const PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
