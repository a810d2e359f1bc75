// HTTP/2 protocol edge cases of our server connection (src/api/h2/connection.ts)
// behind the machine API's gRPC server, driven by a raw frame-level client
// written here (node:net on the unix socket: bytes out, frames parsed back),
// so every frame, flag and error code is visible: the preface exchange,
// header blocks split into CONTINUATION and padded, connection errors
// (GOAWAY + close) and stream errors (RST_STREAM, the connection serving on),
// the concurrent-stream cap, flow control both ways (windows, the
// SETTINGS_INITIAL_WINDOW_SIZE delta), resets and GOAWAY from the client,
// and the peer's SETTINGS_MAX_FRAME_SIZE. The frame numbers are spelled out
// here from RFC 9113, not imported, so the test does not share the server's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frame as grpcFrame, MessageReader } from "../../../../src/api/framing.ts";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type MethodHandler } from "../../../../src/api/grpc-server.ts";
import { encodeHeaders, HpackDecoder } from "../../../../src/api/h2/hpack.ts";

// --- RFC 9113 numbers ------------------------------------------------------

const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const TYPE_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"];

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;

const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;
const ENHANCE_YOUR_CALM = 0xb;

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const MAX_WINDOW = 0x7fffffff;
/** What the server announces as SETTINGS_INITIAL_WINDOW_SIZE (grpc-server.ts). */
const SERVER_STREAM_WINDOW = 1 << 20;
const MAX_CONCURRENT = 3;

// --- frames out --------------------------------------------------------------

function rawFrame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

function settingsFrame(entries: [number, number][]): Buffer {
  const p = Buffer.alloc(6 * entries.length);
  entries.forEach(([k, v], i) => {
    p.writeUInt16BE(k, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return rawFrame(SETTINGS, 0, 0, p);
}

const windowUpdate = (stream: number, inc: number) => rawFrame(WINDOW_UPDATE, 0, stream, u32(inc));
const rst = (stream: number, code: number) => rawFrame(RST_STREAM, 0, stream, u32(code));
const goaway = (last: number, code: number) => rawFrame(GOAWAY, 0, 0, Buffer.concat([u32(last), u32(code)]));

type Fields = [string, string][];

const requestFields = (path: string, extra: Fields = []): Fields => [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", path],
  [":authority", "localhost"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
  ...extra,
];

function headersFrame(stream: number, fields: Fields, flags = END_HEADERS): Buffer {
  return rawFrame(HEADERS, flags, stream, encodeHeaders(fields));
}

/** HEADERS and DATA of a whole unary request (one message, END_STREAM on the DATA). */
function unaryRequest(stream: number, path: string, body: Uint8Array): Buffer {
  return Buffer.concat([headersFrame(stream, requestFields(path)), rawFrame(DATA, END_STREAM, stream, grpcFrame(body))]);
}

// --- frames in ---------------------------------------------------------------

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  /** Arrival order on the connection. */
  seq: number;
  /** A HEADERS frame's decoded header block, once its last CONTINUATION arrived. */
  fields?: Fields;
}

const frameName = (f: Frame) =>
  `${TYPE_NAMES[f.type] ?? `type${f.type}`}(stream ${f.stream}, flags 0x${f.flags.toString(16)}, ${f.payload.length} B` +
  (f.type === RST_STREAM && f.payload.length === 4 ? `, code ${f.payload.readUInt32BE(0)}` : "") +
  (f.type === GOAWAY && f.payload.length >= 8 ? `, last ${f.payload.readUInt32BE(0)}, code ${f.payload.readUInt32BE(4)}` : "") +
  ")";

/** A DATA or HEADERS payload without its padding and (HEADERS) priority fields. */
function content(f: Frame): Buffer {
  let p = f.payload;
  if (f.flags & PADDED) p = p.subarray(1, p.length - p[0]!);
  if (f.type === HEADERS && f.flags & PRIORITY_FLAG) p = p.subarray(5);
  return p;
}

function parseSettings(p: Buffer): Map<number, number> {
  const m = new Map<number, number>();
  for (let at = 0; at + 6 <= p.length; at += 6) m.set(p.readUInt16BE(at), p.readUInt32BE(at + 2));
  return m;
}

interface RawOptions {
  /** The client preface; false sends nothing on connect. */
  preface?: boolean;
  /** The client's SETTINGS entries (sent after the preface); null sends no SETTINGS. */
  settings?: [number, number][] | null;
  /** Answer the server's PINGs and SETTINGS (default true). */
  autoAck?: boolean;
  /** Give back stream window for every DATA frame received (default true). */
  grantStream?: boolean;
  /** Give back connection window for every DATA frame received (default true). */
  grantConnection?: boolean;
}

/** A frame-level HTTP/2 client on the server's unix socket. */
class Raw {
  readonly sock: net.Socket;
  readonly frames: Frame[] = [];
  private readonly taken = new Set<Frame>();
  private buf: Buffer = Buffer.alloc(0);
  private block: { head: Frame; parts: Buffer[] } | undefined;
  private readonly hpack = new HpackDecoder();
  private readonly listeners = new Set<() => void>();
  private pings = 0;
  closed = false;
  autoAck: boolean;
  grantStream: boolean;
  grantConnection: boolean;

  private constructor(path: string, opts: RawOptions) {
    this.autoAck = opts.autoAck ?? true;
    this.grantStream = opts.grantStream ?? true;
    this.grantConnection = opts.grantConnection ?? true;
    this.sock = net.connect(path);
    this.sock.on("data", (d: Buffer) => this.onBytes(d));
    this.sock.on("error", () => {});
    this.sock.on("close", () => {
      this.closed = true;
      this.notify();
    });
  }

  static async open(opts: RawOptions = {}): Promise<Raw> {
    const c = new Raw(socket, opts);
    open.add(c);
    await new Promise<void>((resolve, reject) => {
      c.sock.once("connect", resolve);
      c.sock.once("error", reject);
    });
    const first: Buffer[] = [];
    if (opts.preface ?? true) first.push(PREFACE);
    if (opts.settings !== null) first.push(settingsFrame(opts.settings ?? []));
    if (first.length) c.send(...first);
    // The server's SETTINGS (and, with autoAck, our ACK of it) before anything else: an ACK sent
    // later could land inside a test's header block (HEADERS ... CONTINUATION), a connection error.
    await c.until(() => c.frames.some((f) => f.type === SETTINGS && !(f.flags & ACK)), "the server's SETTINGS");
    return c;
  }

  send(...bytes: Uint8Array[]): void {
    if (!this.closed && !this.sock.destroyed) this.sock.write(Buffer.concat(bytes));
  }

  close(): void {
    this.sock.destroy();
    open.delete(this);
  }

  private onBytes(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + length) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        stream: this.buf.readUInt32BE(5) & MAX_WINDOW,
        payload: Buffer.from(this.buf.subarray(9, 9 + length)),
        seq: this.frames.length,
      };
      this.buf = this.buf.subarray(9 + length);
      this.onFrame(f);
    }
    this.notify();
  }

  private onFrame(f: Frame): void {
    this.frames.push(f);
    if (f.type === HEADERS) {
      if (f.flags & END_HEADERS) f.fields = this.hpack.decode(content(f));
      else this.block = { head: f, parts: [content(f)] };
    } else if (f.type === CONTINUATION && this.block) {
      this.block.parts.push(f.payload);
      if (f.flags & END_HEADERS) {
        this.block.head.fields = this.hpack.decode(Buffer.concat(this.block.parts));
        this.block = undefined;
      }
    }
    if (this.autoAck && f.type === PING && !(f.flags & ACK)) this.send(rawFrame(PING, ACK, 0, f.payload));
    if (this.autoAck && f.type === SETTINGS && !(f.flags & ACK)) this.send(rawFrame(SETTINGS, ACK, 0));
    if (f.type === DATA && f.payload.length) {
      if (this.grantConnection) this.send(windowUpdate(0, f.payload.length));
      if (this.grantStream && !(f.flags & END_STREAM)) this.send(windowUpdate(f.stream, f.payload.length));
    }
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  /** Recent frames, for failure messages. */
  describe(): string {
    const last = this.frames.slice(-25).map(frameName).join(", ");
    return `${this.frames.length} frames [${last}]${this.closed ? ", then the socket closed" : ""}`;
  }

  /** Resolves once cond() holds (checked on every frame and on close). */
  until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) {
          done();
          resolve();
        } else if (this.closed) {
          done();
          reject(new Error(`the connection closed while waiting for ${what}; got ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${this.describe()}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The first frame not yet taken that matches (waiting for it up to ms); it is taken. */
  async next(pred: (f: Frame) => boolean, what: string, ms = 3000): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(
      () => {
        found = this.frames.find((f) => !this.taken.has(f) && pred(f));
        return found !== undefined;
      },
      what,
      ms,
    );
    this.taken.add(found!);
    return found!;
  }

  /** Resolves once the server closed the socket. */
  waitClosed(ms = 2000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!this.closed) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the server did not close the connection within ${ms} ms; got ${this.describe()}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /**
   * A PING and its ACK: the server answers frames in order, so whatever it
   * sent because of anything before the PING came before the ACK. Returns the ACK.
   */
  async roundTrip(): Promise<Frame> {
    const payload = Buffer.alloc(8);
    payload.write("rt", 0, "latin1");
    payload.writeUInt32BE(++this.pings, 4);
    this.send(rawFrame(PING, 0, 0, payload));
    return this.next((f) => f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(payload), `the ACK of PING ${this.pings}`);
  }

  /** Frames of one stream (optionally only of one type) received so far. */
  on(stream: number, type?: number): Frame[] {
    return this.frames.filter((f) => f.stream === stream && (type === undefined || f.type === type));
  }

  /** DATA bytes (payload, padding included: what flow control counts) received on a stream. */
  dataBytes(stream: number): number {
    return this.on(stream, DATA).reduce((n, f) => n + f.payload.length, 0);
  }

  goaways(): Frame[] {
    return this.frames.filter((f) => f.type === GOAWAY);
  }
}

const open = new Set<Raw>();

/** What a stream got: response headers, the DATA bytes, its gRPC messages, the trailers. */
interface Reply {
  headers: Fields;
  data: Buffer;
  messages: Buffer[];
  trailers: Fields;
  /** The last frame of the stream (trailers, or HEADERS of a trailers-only reply). */
  end: Frame;
}

const field = (fields: Fields | undefined, name: string) => fields?.find(([n]) => n === name)?.[1];

/** Waits for a stream's end (HEADERS with END_STREAM, decoded) and returns what it got; a reset fails. */
async function reply(c: Raw, stream: number, ms = 3000): Promise<Reply> {
  const end = await c.next(
    (f) => f.stream === stream && ((f.type === HEADERS && (f.flags & END_STREAM) !== 0 && f.fields !== undefined) || f.type === RST_STREAM),
    `the end of stream ${stream}`,
    ms,
  );
  if (end.type === RST_STREAM) throw new Error(`stream ${stream} was reset with code ${end.payload.readUInt32BE(0)}; got ${c.describe()}`);
  const before = c.on(stream).filter((f) => f.seq < end.seq);
  const heads = before.filter((f) => f.type === HEADERS);
  const data = Buffer.concat(before.filter((f) => f.type === DATA).map(content));
  const messages = new MessageReader(1 << 30, undefined).push(data).map((m) => Buffer.from(m));
  return { headers: heads[0]?.fields ?? end.fields!, data, messages, trailers: end.fields!, end };
}

/** A connection error: GOAWAY with `code`, then the socket closes. Returns the GOAWAY. */
async function expectConnectionError(c: Raw, code: number): Promise<Frame> {
  const g = await c.next((f) => f.type === GOAWAY, `GOAWAY (code ${code})`);
  expect(g.stream).toBe(0);
  expect(g.payload.length).toBeGreaterThanOrEqual(8);
  expect(g.payload.readUInt32BE(4)).toBe(code);
  await c.waitClosed(2000);
  return g;
}

/** A fresh connection gets a unary call through: the server is alive. */
async function expectServes(): Promise<void> {
  const c = await Raw.open();
  try {
    c.send(unaryRequest(1, "/t.T/Echo", Buffer.from("alive")));
    const r = await reply(c, 1);
    expect(r.messages.map(String)).toEqual(["alive"]);
    expect(field(r.trailers, "grpc-status")).toBe("0");
  } finally {
    c.close();
  }
}

/** The bytes `/t.T/Big` sends: byte k of the whole reply is k % 251. */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let k = 0; k < n; k++) b[k] = k % 251;
  return b;
}

// --- the server --------------------------------------------------------------

const FLOOD_CHUNK = 16 * 1024;
const seen = { floodStarted: 0, floodAborted: 0, sinkCalls: 0, sinkAborted: 0 };

const methods = new Map<string, MethodHandler>([
  ["/t.T/Echo", { requestStream: false, handle: (call, request) => call.end(undefined, request) }],
  [
    // Request "total:chunk": `total` bytes of pattern() in messages of `chunk` bytes, then OK.
    "/t.T/Big",
    {
      requestStream: false,
      handle(call, request) {
        const [total, chunk] = Buffer.from(request).toString().split(":").map(Number) as [number, number];
        const all = pattern(total);
        for (let at = 0; at < total; at += chunk) call.write(all.subarray(at, at + chunk));
        call.end();
      },
    },
  ],
  [
    // FLOOD_CHUNK messages forever, as fast as the call takes them, until the call is cancelled.
    "/t.T/Flood",
    {
      requestStream: false,
      handle(call) {
        seen.floodStarted++;
        call.signal.addEventListener("abort", () => seen.floodAborted++);
        const chunk = Buffer.alloc(FLOOD_CHUNK, 0x62);
        const pump = () => {
          while (!call.signal.aborted) if (!call.write(chunk)) return call.onDrain(pump);
        };
        pump();
      },
    },
  ],
  [
    // A client stream whose handler never reads: the HTTP/2 stream pauses once 16 requests wait.
    "/t.T/Sink",
    {
      requestStream: true,
      handle(call) {
        seen.sinkCalls++;
        call.signal.addEventListener("abort", () => seen.sinkAborted++);
      },
    },
  ],
]);

let dir: string;
let socket: string;
let server: GrpcServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-h2-conn-"));
  socket = join(dir, "t.sock");
  server = new GrpcServer(methods, { ...GRPC_SERVER_DEFAULTS, maxConcurrentStreams: MAX_CONCURRENT });
  await server.listen({ path: socket });
});

afterAll(() => {
  for (const c of open) c.close();
  try {
    server?.forceShutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- 1. preface --------------------------------------------------------------

/** Runs `fn` on a fresh raw connection, closed afterwards whatever happens. */
async function withRaw(optsOrFn: RawOptions | ((c: Raw) => Promise<void>), maybeFn?: (c: Raw) => Promise<void>): Promise<void> {
  const fn = typeof optsOrFn === "function" ? optsOrFn : maybeFn!;
  const c = await Raw.open(typeof optsOrFn === "function" ? {} : optsOrFn);
  try {
    await fn(c);
  } finally {
    c.close();
  }
}

describe("connection preface", () => {
  test("the server's first frame is SETTINGS with MAX_CONCURRENT_STREAMS; it ACKs ours; a PING comes back as ACK with its 8 bytes", async () => {
    await withRaw({ settings: [[SETTINGS_INITIAL_WINDOW_SIZE, 70_000]], autoAck: false }, async (c) => {
      const first = await c.next(() => true, "the server's first frame");
      expect(first.seq).toBe(0);
      expect(TYPE_NAMES[first.type]).toBe("SETTINGS");
      expect(first.flags & ACK).toBe(0);
      expect(first.stream).toBe(0);
      expect(first.payload.length % 6).toBe(0);
      const s = parseSettings(first.payload);
      expect(s.get(SETTINGS_MAX_CONCURRENT_STREAMS)).toBe(MAX_CONCURRENT);
      expect(s.get(SETTINGS_INITIAL_WINDOW_SIZE)).toBe(SERVER_STREAM_WINDOW);
      const ack = await c.next((f) => f.type === SETTINGS && (f.flags & ACK) !== 0, "the ACK of our SETTINGS");
      expect(ack.flags).toBe(ACK);
      expect(ack.stream).toBe(0);
      expect(ack.payload.length).toBe(0);
      // Exactly one ACK for our one SETTINGS.
      await c.roundTrip();
      expect(c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length).toBe(1);
      const payload = Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
      c.send(rawFrame(PING, 0, 0, payload));
      const pong = await c.next((f) => f.type === PING, "the PING ACK");
      expect(pong.flags).toBe(ACK);
      expect(pong.stream).toBe(0);
      expect(pong.payload).toEqual(payload);
      expect(c.goaways()).toEqual([]);
    });
  });

  test("the preface and the frames of a call arriving a byte at a time", async () => {
    // No automatic SETTINGS ACK: it would land inside our preface.
    await withRaw({ preface: false, settings: null, autoAck: false }, async (c) => {
      const bytes = Buffer.concat([PREFACE, settingsFrame([]), unaryRequest(1, "/t.T/Echo", Buffer.from("drip"))]);
      for (const b of bytes) {
        c.sock.write(Buffer.from([b]));
        await new Promise((r) => setImmediate(r));
      }
      const r = await reply(c, 1);
      expect(r.messages.map(String)).toEqual(["drip"]);
      expect(field(r.trailers, "grpc-status")).toBe("0");
    });
  });

  test("a bad preface (HTTP/1.1): the server closes the connection, with GOAWAY PROTOCOL_ERROR if any", async () => {
    await withRaw({ preface: false, settings: null }, async (c) => {
      c.send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"));
      await c.waitClosed(2000);
      for (const g of c.goaways()) expect(g.payload.readUInt32BE(4)).toBe(PROTOCOL_ERROR);
      // No stream was answered.
      expect(c.frames.filter((f) => f.stream !== 0)).toEqual([]);
    });
    await expectServes();
  });
});

// --- 2. header blocks and padding ------------------------------------------

describe("header blocks and padding", () => {
  test("a request header block in HEADERS + 2 CONTINUATION frames", async () => {
    await withRaw(async (c) => {
      const block = Buffer.from(encodeHeaders(requestFields("/t.T/Echo", [["x-filler", "f".repeat(200)]])));
      const a = Math.floor(block.length / 3);
      const b = Math.floor((2 * block.length) / 3);
      c.send(
        rawFrame(HEADERS, 0, 1, block.subarray(0, a)),
        rawFrame(CONTINUATION, 0, 1, block.subarray(a, b)),
        rawFrame(CONTINUATION, END_HEADERS, 1, block.subarray(b)),
        rawFrame(DATA, END_STREAM, 1, grpcFrame(Buffer.from("continued"))),
      );
      const r = await reply(c, 1);
      expect(field(r.headers, ":status")).toBe("200");
      expect(r.messages.map(String)).toEqual(["continued"]);
      expect(field(r.trailers, "grpc-status")).toBe("0");
      expect(c.on(1, RST_STREAM)).toEqual([]);
    });
  });

  test("END_STREAM on a HEADERS continued by CONTINUATION still ends the request (no message: INTERNAL, trailers-only)", async () => {
    await withRaw(async (c) => {
      const block = Buffer.from(encodeHeaders(requestFields("/t.T/Echo")));
      const a = Math.floor(block.length / 2);
      c.send(rawFrame(HEADERS, END_STREAM, 1, block.subarray(0, a)), rawFrame(CONTINUATION, END_HEADERS, 1, block.subarray(a)));
      const r = await reply(c, 1);
      expect(c.on(1, HEADERS).length).toBe(1); // trailers-only
      expect(c.on(1, DATA)).toEqual([]);
      expect(field(r.trailers, ":status")).toBe("200");
      expect(field(r.trailers, "grpc-status")).toBe("13");
      expect(field(r.trailers, "grpc-message")).toContain("got 0");
    });
  });

  test("PADDED (and PRIORITY) HEADERS, and PADDED DATA with pad lengths 0 and 10", async () => {
    await withRaw(async (c) => {
      const block = Buffer.from(encodeHeaders(requestFields("/t.T/Echo")));
      const priority = Buffer.from([0, 0, 0, 0, 15]); // depends on stream 0, weight 16
      c.send(rawFrame(HEADERS, PADDED | PRIORITY_FLAG | END_HEADERS, 1, Buffer.concat([Buffer.from([7]), priority, block, Buffer.alloc(7)])));
      const msg = grpcFrame(Buffer.from("padded body"));
      c.send(
        rawFrame(DATA, PADDED, 1, Buffer.concat([Buffer.from([0]), msg.subarray(0, 6)])),
        rawFrame(DATA, PADDED | END_STREAM, 1, Buffer.concat([Buffer.from([10]), msg.subarray(6), Buffer.alloc(10, 0xee)])),
      );
      const r = await reply(c, 1);
      expect(r.messages.map(String)).toEqual(["padded body"]);
      expect(field(r.trailers, "grpc-status")).toBe("0");
      // A PADDED HEADERS without PRIORITY on the next stream works too.
      c.send(rawFrame(HEADERS, PADDED | END_HEADERS, 3, Buffer.concat([Buffer.from([3]), block, Buffer.alloc(3)])));
      c.send(rawFrame(DATA, END_STREAM, 3, grpcFrame(Buffer.from("three"))));
      expect((await reply(c, 3)).messages.map(String)).toEqual(["three"]);
      expect(c.goaways()).toEqual([]);
    });
  });
});

// --- 4. connection errors ----------------------------------------------------

interface ConnectionCase {
  name: string;
  /** Frames after the preface and our SETTINGS. */
  frames: () => Buffer[];
  code: number;
  /** Leave out our SETTINGS (the case is about the first frame). */
  noSettings?: boolean;
}

const bigHeaders = () => rawFrame(HEADERS, END_HEADERS, 1, Buffer.alloc(16_385));

const connectionCases: ConnectionCase[] = [
  { name: "DATA on stream 0 → PROTOCOL_ERROR", frames: () => [rawFrame(DATA, 0, 0, Buffer.from("x"))], code: PROTOCOL_ERROR },
  { name: "a 16385-byte frame (over the default SETTINGS_MAX_FRAME_SIZE) → FRAME_SIZE_ERROR", frames: () => [bigHeaders()], code: FRAME_SIZE_ERROR },
  {
    name: "CONTINUATION without HEADERS → PROTOCOL_ERROR",
    frames: () => [rawFrame(CONTINUATION, END_HEADERS, 1, encodeHeaders(requestFields("/t.T/Echo")))],
    code: PROTOCOL_ERROR,
  },
  {
    name: "HEADERS on an even (server-initiated) stream id → PROTOCOL_ERROR",
    frames: () => [headersFrame(2, requestFields("/t.T/Echo"))],
    code: PROTOCOL_ERROR,
  },
  { name: "WINDOW_UPDATE of 0 on stream 0 → PROTOCOL_ERROR", frames: () => [windowUpdate(0, 0)], code: PROTOCOL_ERROR },
  { name: "a connection WINDOW_UPDATE past 2^31-1 → FLOW_CONTROL_ERROR", frames: () => [windowUpdate(0, MAX_WINDOW)], code: FLOW_CONTROL_ERROR },
  {
    name: "a garbage HPACK block (indexed field 0) → COMPRESSION_ERROR",
    frames: () => [rawFrame(HEADERS, END_HEADERS | END_STREAM, 1, Buffer.from([0x80]))],
    code: COMPRESSION_ERROR,
  },
  {
    name: "the first frame after the preface not SETTINGS → PROTOCOL_ERROR",
    frames: () => [rawFrame(PING, 0, 0, Buffer.alloc(8))],
    code: PROTOCOL_ERROR,
    noSettings: true,
  },
  {
    name: "a header block interrupted by another frame → PROTOCOL_ERROR",
    frames: () => {
      const block = encodeHeaders(requestFields("/t.T/Echo"));
      return [rawFrame(HEADERS, 0, 1, block.subarray(0, 10)), rawFrame(PING, 0, 0, Buffer.alloc(8))];
    },
    code: PROTOCOL_ERROR,
  },
  {
    name: "a header block continued on another stream → PROTOCOL_ERROR",
    frames: () => {
      const block = encodeHeaders(requestFields("/t.T/Echo"));
      return [rawFrame(HEADERS, 0, 1, block.subarray(0, 10)), rawFrame(CONTINUATION, END_HEADERS, 3, block.subarray(10))];
    },
    code: PROTOCOL_ERROR,
  },
  {
    name: "padding as long as the payload → PROTOCOL_ERROR",
    frames: () => [rawFrame(HEADERS, PADDED | END_HEADERS, 1, Buffer.from([4, 1, 2, 3]))],
    code: PROTOCOL_ERROR,
  },
  {
    name: "PUSH_PROMISE from a client → PROTOCOL_ERROR",
    frames: () => [rawFrame(PUSH_PROMISE, END_HEADERS, 1, Buffer.from([0, 0, 0, 2]))],
    code: PROTOCOL_ERROR,
  },
  { name: "SETTINGS of 5 bytes → FRAME_SIZE_ERROR", frames: () => [rawFrame(SETTINGS, 0, 0, Buffer.alloc(5))], code: FRAME_SIZE_ERROR },
  { name: "SETTINGS ACK with a payload → FRAME_SIZE_ERROR", frames: () => [rawFrame(SETTINGS, ACK, 0, Buffer.alloc(6))], code: FRAME_SIZE_ERROR },
  { name: "SETTINGS on a stream → PROTOCOL_ERROR", frames: () => [rawFrame(SETTINGS, 0, 1)], code: PROTOCOL_ERROR },
  {
    name: "SETTINGS_INITIAL_WINDOW_SIZE of 2^31 → FLOW_CONTROL_ERROR",
    frames: () => [settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 0x80000000]])],
    code: FLOW_CONTROL_ERROR,
  },
  { name: "SETTINGS_MAX_FRAME_SIZE of 16383 → PROTOCOL_ERROR", frames: () => [settingsFrame([[SETTINGS_MAX_FRAME_SIZE, 16_383]])], code: PROTOCOL_ERROR },
  { name: "SETTINGS_MAX_FRAME_SIZE of 2^24 → PROTOCOL_ERROR", frames: () => [settingsFrame([[SETTINGS_MAX_FRAME_SIZE, 1 << 24]])], code: PROTOCOL_ERROR },
  { name: "PING of 7 bytes → FRAME_SIZE_ERROR", frames: () => [rawFrame(PING, 0, 0, Buffer.alloc(7))], code: FRAME_SIZE_ERROR },
  { name: "PING on a stream → PROTOCOL_ERROR", frames: () => [rawFrame(PING, 0, 1, Buffer.alloc(8))], code: PROTOCOL_ERROR },
  { name: "DATA on an idle stream → PROTOCOL_ERROR", frames: () => [rawFrame(DATA, 0, 1, Buffer.from("x"))], code: PROTOCOL_ERROR },
  { name: "RST_STREAM on an idle stream → PROTOCOL_ERROR", frames: () => [rst(1, CANCEL)], code: PROTOCOL_ERROR },
  { name: "RST_STREAM on stream 0 → PROTOCOL_ERROR", frames: () => [rst(0, CANCEL)], code: PROTOCOL_ERROR },
  { name: "WINDOW_UPDATE on an idle stream → PROTOCOL_ERROR", frames: () => [windowUpdate(1, 100)], code: PROTOCOL_ERROR },
  { name: "PRIORITY on stream 0 → PROTOCOL_ERROR", frames: () => [rawFrame(PRIORITY, 0, 0, Buffer.alloc(5))], code: PROTOCOL_ERROR },
  { name: "GOAWAY on a stream → PROTOCOL_ERROR", frames: () => [rawFrame(GOAWAY, 0, 1, Buffer.alloc(8))], code: PROTOCOL_ERROR },
  { name: "RST_STREAM of 3 bytes → FRAME_SIZE_ERROR", frames: () => [rawFrame(RST_STREAM, 0, 1, Buffer.alloc(3))], code: FRAME_SIZE_ERROR },
  { name: "WINDOW_UPDATE of 3 bytes → FRAME_SIZE_ERROR", frames: () => [rawFrame(WINDOW_UPDATE, 0, 0, Buffer.alloc(3))], code: FRAME_SIZE_ERROR },
  {
    name: "HEADERS with PRIORITY too short for its 5 priority bytes → FRAME_SIZE_ERROR",
    frames: () => [rawFrame(HEADERS, PRIORITY_FLAG | END_HEADERS, 1, Buffer.alloc(4))],
    code: FRAME_SIZE_ERROR,
  },
  {
    name: "a header block over 256 KiB (HEADERS + 16 full CONTINUATIONs) → ENHANCE_YOUR_CALM",
    frames: () => [
      rawFrame(HEADERS, 0, 1, Buffer.alloc(16_384)),
      ...Array.from({ length: 16 }, (_, i) => rawFrame(CONTINUATION, i === 15 ? END_HEADERS : 0, 1, Buffer.alloc(16_384))),
    ],
    code: ENHANCE_YOUR_CALM,
  },
];

describe("connection errors: GOAWAY with the code, the socket closes, the server serves on", () => {
  for (const k of connectionCases)
    test(k.name, async () => {
      const c = await Raw.open({ settings: k.noSettings ? null : [] });
      try {
        c.send(...k.frames());
        const g = await expectConnectionError(c, k.code);
        // No stream was opened by any of these.
        expect(g.payload.readUInt32BE(0)).toBe(0);
      } finally {
        c.close();
      }
      await expectServes();
    });

  test("HEADERS reopening a stream that completed → STREAM_CLOSED (RFC 9113 5.1), last stream id 1", async () => {
    await withRaw(async (c) => {
      c.send(unaryRequest(1, "/t.T/Echo", Buffer.from("once")));
      await reply(c, 1);
      c.send(unaryRequest(1, "/t.T/Echo", Buffer.from("twice")));
      const g = await expectConnectionError(c, STREAM_CLOSED);
      expect(g.payload.readUInt32BE(0)).toBe(1);
    });
    await expectServes();
  });

  test("PRIORITY of 4 bytes → RST_STREAM FRAME_SIZE_ERROR on its stream only; a 5-byte PRIORITY on an idle stream is ignored", async () => {
    await withRaw(async (c) => {
      c.send(rawFrame(PRIORITY, 0, 7, Buffer.from([0, 0, 0, 0, 15])));
      c.send(headersFrame(1, requestFields("/t.T/Echo")), rawFrame(PRIORITY, 0, 1, Buffer.alloc(4)));
      const r = await c.next((f) => f.stream === 1, "a frame on stream 1");
      expect(frameName(r)).toBe(`RST_STREAM(stream 1, flags 0x0, 4 B, code ${FRAME_SIZE_ERROR})`);
      // Stream 3 is still below the PRIORITY's stream 7, which did not open it.
      c.send(unaryRequest(3, "/t.T/Echo", Buffer.from("three")));
      expect((await reply(c, 3)).messages.map(String)).toEqual(["three"]);
      expect(c.goaways()).toEqual([]);
    });
  });

  test("unknown frame types are ignored, also on streams", async () => {
    await withRaw(async (c) => {
      c.send(rawFrame(0xfa, 0xff, 0, Buffer.from("whatever")), rawFrame(0x0b, 0, 1, Buffer.from("x")));
      c.send(unaryRequest(1, "/t.T/Echo", Buffer.from("still here")));
      expect((await reply(c, 1)).messages.map(String)).toEqual(["still here"]);
      expect(c.goaways()).toEqual([]);
    });
  });
});

// --- 5. stream errors --------------------------------------------------------

describe("stream errors: RST_STREAM on the stream, the connection serves on", () => {
  test("malformed requests (upper-case name, pseudo after regular, connection-specific field, te: gzip, no :path) → PROTOCOL_ERROR each", async () => {
    await withRaw(async (c) => {
      const base = requestFields("/t.T/Echo");
      const bad: Fields[] = [
        [...base, ["X-Upper", "1"]],
        [...base.filter(([n]) => n !== ":authority"), [":authority", "late"]],
        [...base, ["connection", "keep-alive"]],
        base.map(([n, v]) => (n === "te" ? [n, "gzip"] : [n, v])),
        base.filter(([n]) => n !== ":path"),
      ];
      let id = 1;
      for (const fields of bad) {
        c.send(headersFrame(id, fields, END_HEADERS | END_STREAM));
        const r = await c.next((f) => f.stream === id, `a frame on stream ${id}`);
        expect(frameName(r)).toBe(`RST_STREAM(stream ${id}, flags 0x0, 4 B, code ${PROTOCOL_ERROR})`);
        id += 2;
      }
      c.send(unaryRequest(id, "/t.T/Echo", Buffer.from("after")));
      const r = await reply(c, id);
      expect(r.messages.map(String)).toEqual(["after"]);
      expect(c.goaways()).toEqual([]);
    });
  });

  test("a stream WINDOW_UPDATE of 0 → RST_STREAM PROTOCOL_ERROR; one past 2^31-1 → RST_STREAM FLOW_CONTROL_ERROR", async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")), windowUpdate(1, 0));
      expect(frameName(await c.next((f) => f.stream === 1, "a frame on stream 1"))).toBe(`RST_STREAM(stream 1, flags 0x0, 4 B, code ${PROTOCOL_ERROR})`);
      c.send(headersFrame(3, requestFields("/t.T/Echo")), windowUpdate(3, MAX_WINDOW));
      expect(frameName(await c.next((f) => f.stream === 3, "a frame on stream 3"))).toBe(`RST_STREAM(stream 3, flags 0x0, 4 B, code ${FLOW_CONTROL_ERROR})`);
      c.send(unaryRequest(5, "/t.T/Echo", Buffer.from("fine")));
      expect((await reply(c, 5)).messages.map(String)).toEqual(["fine"]);
      expect(c.goaways()).toEqual([]);
    });
  });

  test("DATA on a half-closed (remote) stream → RST_STREAM STREAM_CLOSED", async () => {
    await withRaw(async (c) => {
      // Sink never answers: the stream stays half-closed (remote) after our END_STREAM.
      c.send(headersFrame(1, requestFields("/t.T/Sink"), END_HEADERS | END_STREAM));
      await c.roundTrip();
      expect(c.on(1, RST_STREAM)).toEqual([]);
      c.send(rawFrame(DATA, 0, 1, grpcFrame(Buffer.from("late"))));
      const r = await c.next((f) => f.stream === 1 && f.type === RST_STREAM, "RST_STREAM on stream 1");
      expect(r.payload.readUInt32BE(0)).toBe(STREAM_CLOSED);
      c.send(unaryRequest(3, "/t.T/Echo", Buffer.from("fine")));
      expect((await reply(c, 3)).messages.map(String)).toEqual(["fine"]);
      expect(c.goaways()).toEqual([]);
    });
  });

  test("DATA past the stream's window (1 MiB, reader paused) → RST_STREAM FLOW_CONTROL_ERROR; up to the window is fine", async () => {
    await withRaw(async (c) => {
      const sinks = seen.sinkCalls;
      c.send(headersFrame(1, requestFields("/t.T/Sink")));
      // 16 one-byte requests: the handler reads none, so the stream pauses and takes nothing more.
      const sixteen = Buffer.concat(Array.from({ length: 16 }, () => grpcFrame(Buffer.from("r"))));
      c.send(rawFrame(DATA, 0, 1, sixteen));
      let sent = sixteen.length;
      const rest = SERVER_STREAM_WINDOW - sent;
      const chunk = Buffer.alloc(16_384, 0x7a);
      const frames: Buffer[] = [];
      for (let left = rest; left > 0; left -= chunk.length) frames.push(rawFrame(DATA, 0, 1, chunk.subarray(0, Math.min(left, chunk.length))));
      c.send(...frames);
      sent += rest;
      expect(sent).toBe(SERVER_STREAM_WINDOW);
      // Exactly the window: no reset, and no stream WINDOW_UPDATE either (nothing was read past the first 96 bytes).
      await c.roundTrip();
      expect(seen.sinkCalls).toBe(sinks + 1);
      expect(c.on(1, RST_STREAM)).toEqual([]);
      expect(c.on(1, WINDOW_UPDATE)).toEqual([]);
      // One byte more.
      c.send(rawFrame(DATA, 0, 1, Buffer.from("!")));
      const r = await c.next((f) => f.stream === 1 && f.type === RST_STREAM, "RST_STREAM on stream 1");
      expect(r.payload.readUInt32BE(0)).toBe(FLOW_CONTROL_ERROR);
      c.send(unaryRequest(3, "/t.T/Echo", Buffer.from("fine")));
      expect((await reply(c, 3)).messages.map(String)).toEqual(["fine"]);
      expect(c.goaways()).toEqual([]);
    });
  });
});

// --- 6. MAX_CONCURRENT_STREAMS -----------------------------------------------

describe("SETTINGS_MAX_CONCURRENT_STREAMS", () => {
  test(`with ${MAX_CONCURRENT} streams open a 4th gets REFUSED_STREAM; the three complete; a later stream works`, async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")), headersFrame(3, requestFields("/t.T/Echo")), headersFrame(5, requestFields("/t.T/Echo")));
      await c.roundTrip();
      expect(c.frames.filter((f) => f.stream !== 0)).toEqual([]);
      c.send(headersFrame(7, requestFields("/t.T/Echo")));
      const refused = await c.next((f) => f.stream === 7, "a frame on stream 7");
      expect(frameName(refused)).toBe(`RST_STREAM(stream 7, flags 0x0, 4 B, code ${REFUSED_STREAM})`);
      // The refused stream's request body, sent before the client saw the reset, is dropped quietly.
      c.send(rawFrame(DATA, END_STREAM, 7, grpcFrame(Buffer.from("refused"))));
      for (const id of [1, 3, 5]) c.send(rawFrame(DATA, END_STREAM, id, grpcFrame(Buffer.from(`s${id}`))));
      for (const id of [1, 3, 5]) {
        const r = await reply(c, id);
        expect(r.messages.map(String)).toEqual([`s${id}`]);
        expect(field(r.trailers, "grpc-status")).toBe("0");
        expect(c.on(id, RST_STREAM)).toEqual([]);
      }
      c.send(unaryRequest(9, "/t.T/Echo", Buffer.from("s9")));
      expect((await reply(c, 9)).messages.map(String)).toEqual(["s9"]);
      expect(c.on(7).length).toBe(1);
      expect(c.goaways()).toEqual([]);
    });
  });
});

// --- 7. flow control towards the client --------------------------------------

describe("flow control towards the client", () => {
  test("INITIAL_WINDOW_SIZE 100 and no WINDOW_UPDATE: 100 bytes; a stream update: up to the connection's 65535; then all of 300 KB", async () => {
    const total = 300_000;
    const chunk = 16_384;
    await withRaw({ settings: [[SETTINGS_INITIAL_WINDOW_SIZE, 100]], grantStream: false, grantConnection: false }, async (c) => {
      await c.next((f) => f.type === SETTINGS && (f.flags & ACK) !== 0, "the ACK of our SETTINGS");
      c.send(unaryRequest(1, "/t.T/Big", Buffer.from(`${total}:${chunk}`)));
      await c.until(() => c.dataBytes(1) >= 100, "100 bytes of DATA");
      await c.roundTrip();
      await Bun.sleep(100);
      await c.roundTrip();
      expect(c.dataBytes(1)).toBe(100);
      expect(Math.max(...c.on(1, DATA).map((f) => f.payload.length))).toBeLessThanOrEqual(100);
      // The stream's window opens wide; the connection's (65535, never updated) holds the rest.
      c.send(windowUpdate(1, 1_000_000));
      await c.until(() => c.dataBytes(1) >= 65_535, "the connection window's 65535 bytes");
      await c.roundTrip();
      await Bun.sleep(100);
      await c.roundTrip();
      expect(c.dataBytes(1)).toBe(65_535);
      expect(c.on(1, HEADERS).length).toBe(1); // no trailers yet
      // Now grant the connection what came and whatever comes.
      c.grantConnection = true;
      c.send(windowUpdate(0, 65_535));
      const r = await reply(c, 1, 5000);
      const messages = Math.ceil(total / chunk);
      expect(c.dataBytes(1)).toBe(total + 5 * messages);
      expect(r.messages.length).toBe(messages);
      expect(Buffer.concat(r.messages).equals(pattern(total))).toBe(true);
      expect(field(r.trailers, "grpc-status")).toBe("0");
      expect(c.goaways()).toEqual([]);
    });
  });

  test("SETTINGS_INITIAL_WINDOW_SIZE changed mid-stream applies as a delta (RFC 9113 6.9.2): down to a negative window, then up", async () => {
    await withRaw({ settings: [[SETTINGS_INITIAL_WINDOW_SIZE, 100]], grantStream: false, grantConnection: true }, async (c) => {
      c.send(unaryRequest(1, "/t.T/Big", Buffer.from("1000:100"))); // 10 messages of 105 bytes: 1050
      await c.until(() => c.dataBytes(1) >= 100, "100 bytes of DATA");
      await c.roundTrip();
      expect(c.dataBytes(1)).toBe(100);
      // 100 → 60: the window goes from 0 to -40.
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 60]]));
      await c.next((f) => f.type === SETTINGS && (f.flags & ACK) !== 0, "the ACK of the SETTINGS to 60");
      // +100: the window is 60.
      c.send(windowUpdate(1, 100));
      await c.until(() => c.dataBytes(1) >= 160, "60 more bytes");
      await c.roundTrip();
      await Bun.sleep(50);
      await c.roundTrip();
      expect(c.dataBytes(1)).toBe(160);
      // 60 → 2000: +1940, the window is 1940, room for the remaining 890.
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 2000]]));
      const r = await reply(c, 1);
      expect(c.dataBytes(1)).toBe(1050);
      expect(Buffer.concat(r.messages).equals(pattern(1000))).toBe(true);
      expect(field(r.trailers, "grpc-status")).toBe("0");
    });
  });

  test("a new stream starts with the last SETTINGS_INITIAL_WINDOW_SIZE", async () => {
    await withRaw({ settings: [[SETTINGS_INITIAL_WINDOW_SIZE, 10]], grantStream: false }, async (c) => {
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 30]]));
      c.send(unaryRequest(1, "/t.T/Big", Buffer.from("500:500")));
      await c.until(() => c.dataBytes(1) >= 30, "30 bytes of DATA");
      await c.roundTrip();
      await Bun.sleep(50);
      await c.roundTrip();
      expect(c.dataBytes(1)).toBe(30);
      c.send(windowUpdate(1, 475));
      const r = await reply(c, 1);
      expect(Buffer.concat(r.messages).equals(pattern(500))).toBe(true);
    });
  });
});

// --- 8. client RST_STREAM ------------------------------------------------------

describe("client RST_STREAM", () => {
  test("mid server stream: no DATA on the stream after the server read the reset; the handler is cancelled; the connection serves on", async () => {
    await withRaw(async (c) => {
      const aborted = seen.floodAborted;
      c.send(unaryRequest(1, "/t.T/Flood", Buffer.alloc(0)));
      await c.until(() => c.dataBytes(1) >= 4 * FLOOD_CHUNK, "some flood DATA");
      c.send(rst(1, CANCEL));
      const ack = await c.roundTrip();
      await Bun.sleep(200);
      await c.roundTrip();
      const late = c.on(1).filter((f) => f.seq > ack.seq);
      expect(late.map(frameName)).toEqual([]);
      await c.until(() => seen.floodAborted === aborted + 1, "the handler's abort");
      // The server does not reset a stream the client reset.
      expect(c.on(1, RST_STREAM)).toEqual([]);
      c.send(unaryRequest(3, "/t.T/Echo", Buffer.from("after reset")));
      expect((await reply(c, 3)).messages.map(String)).toEqual(["after reset"]);
      expect(c.goaways()).toEqual([]);
    });
  });
});

// --- 9. client GOAWAY ------------------------------------------------------------

describe("client GOAWAY", () => {
  test("the in-flight call finishes, then the server closes the connection", async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")));
      await c.roundTrip();
      c.send(goaway(0, NO_ERROR));
      await c.roundTrip();
      await Bun.sleep(50);
      expect(c.closed).toBe(false);
      c.send(rawFrame(DATA, END_STREAM, 1, grpcFrame(Buffer.from("last call"))));
      const r = await reply(c, 1);
      expect(r.messages.map(String)).toEqual(["last call"]);
      expect(field(r.trailers, "grpc-status")).toBe("0");
      await c.waitClosed(2000);
      for (const g of c.goaways()) expect(g.payload.readUInt32BE(4)).toBe(NO_ERROR);
    });
    await expectServes();
  });

  test("with no stream open the server closes at once", async () => {
    await withRaw(async (c) => {
      c.send(unaryRequest(1, "/t.T/Echo", Buffer.from("x")));
      await reply(c, 1);
      c.send(goaway(1, NO_ERROR));
      await c.waitClosed(2000);
    });
  });
});

// --- 10. the peer's SETTINGS_MAX_FRAME_SIZE ------------------------------------

describe("the client's SETTINGS_MAX_FRAME_SIZE", () => {
  const total = 200_000;
  const big = (c: Raw) => {
    c.send(windowUpdate(0, 1 << 24));
    c.send(unaryRequest(1, "/t.T/Big", Buffer.from(`${total}:100000`)));
  };

  test("16384 (the default): no DATA frame over 16384", async () => {
    await withRaw(
      {
        settings: [
          [SETTINGS_MAX_FRAME_SIZE, 16_384],
          [SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24],
        ],
      },
      async (c) => {
        big(c);
        const r = await reply(c, 1);
        expect(Buffer.concat(r.messages).equals(pattern(total))).toBe(true);
        const sizes = c.on(1, DATA).map((f) => f.payload.length);
        expect(Math.max(...sizes)).toBe(16_384);
        expect(c.frames.every((f) => f.payload.length <= 16_384)).toBe(true);
      },
    );
  });

  test("65536: DATA frames larger than 16384, none over 65536", async () => {
    await withRaw(
      {
        settings: [
          [SETTINGS_MAX_FRAME_SIZE, 65_536],
          [SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24],
        ],
      },
      async (c) => {
        big(c);
        const r = await reply(c, 1);
        expect(Buffer.concat(r.messages).equals(pattern(total))).toBe(true);
        const sizes = c.on(1, DATA).map((f) => f.payload.length);
        expect(Math.max(...sizes)).toBeGreaterThan(16_384);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(65_536);
        expect(c.frames.every((f) => f.payload.length <= 65_536)).toBe(true);
      },
    );
  });
});

// --- cases these tests found the first version of connection.ts getting wrong (now fixed) ---

describe("closed streams, floods and overflows (RFC 9113 5.1, 6.9.2, CVE-2024-27316)", () => {
  test("a SETTINGS_INITIAL_WINDOW_SIZE change pushing an open stream's window over 2^31-1 → GOAWAY FLOW_CONTROL_ERROR (6.9.2)", async () => {
    await withRaw({ grantStream: false }, async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")));
      // The stream's send window: 65535 + (2^31-1 - 65535) = 2^31-1, the most allowed.
      c.send(windowUpdate(1, MAX_WINDOW - 65_535));
      await c.roundTrip();
      expect(c.on(1)).toEqual([]);
      // +1 on every stream's window: 2^31.
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 65_536]]));
      await expectConnectionError(c, FLOW_CONTROL_ERROR);
    });
    await expectServes();
  });

  test("trailers (HEADERS + END_STREAM) on a stream the server refused are ignored, not a connection error (5.1 closed)", async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")), headersFrame(3, requestFields("/t.T/Echo")), headersFrame(5, requestFields("/t.T/Echo")));
      c.send(headersFrame(7, requestFields("/t.T/Echo")));
      const refused = await c.next((f) => f.stream === 7, "a frame on stream 7");
      expect(frameName(refused)).toBe(`RST_STREAM(stream 7, flags 0x0, 4 B, code ${REFUSED_STREAM})`);
      // Sent as if before the reset arrived: the stream's last frames.
      c.send(rawFrame(DATA, 0, 7, grpcFrame(Buffer.from("refused"))), headersFrame(7, [["x-trailer", "1"]], END_HEADERS | END_STREAM));
      await c.roundTrip();
      expect(c.goaways().map(frameName)).toEqual([]);
      for (const id of [1, 3, 5]) c.send(rawFrame(DATA, END_STREAM, id, grpcFrame(Buffer.from(`s${id}`))));
      for (const id of [1, 3, 5]) expect((await reply(c, id)).messages.map(String)).toEqual([`s${id}`]);
    });
  });

  test("HEADERS opening a stream id lower than one already opened → GOAWAY PROTOCOL_ERROR (5.1.1)", async () => {
    await withRaw(async (c) => {
      c.send(unaryRequest(5, "/t.T/Echo", Buffer.from("five")));
      await reply(c, 5);
      c.send(unaryRequest(3, "/t.T/Echo", Buffer.from("three")));
      await expectConnectionError(c, PROTOCOL_ERROR);
    });
  });

  test("HEADERS on a half-closed (remote) stream → RST_STREAM STREAM_CLOSED (5.1)", async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Sink"), END_HEADERS | END_STREAM));
      await c.roundTrip();
      c.send(headersFrame(1, [["x-trailer", "again"]], END_HEADERS | END_STREAM));
      const r = await c.next((f) => f.stream === 1 && f.type === RST_STREAM, "RST_STREAM on stream 1");
      expect(r.payload.readUInt32BE(0)).toBe(STREAM_CLOSED);
    });
  });

  test("a CONTINUATION flood (HEADERS, then 100000 empty CONTINUATIONs, 900 KB) ends the connection (CVE-2024-27316 class)", async () => {
    await withRaw(async (c) => {
      const block = encodeHeaders(requestFields("/t.T/Echo"));
      const empty = rawFrame(CONTINUATION, 0, 1);
      c.send(rawFrame(HEADERS, 0, 1, block), Buffer.concat(Array.from({ length: 100_000 }, () => empty)));
      const g = await c.next((f) => f.type === GOAWAY, "GOAWAY");
      expect(g.payload.readUInt32BE(4)).not.toBe(NO_ERROR);
      await c.waitClosed(2000);
    });
    await expectServes();
  });

  test("GOAWAY of 4 bytes (no error code) → GOAWAY FRAME_SIZE_ERROR (4.2)", async () => {
    await withRaw(async (c) => {
      c.send(rawFrame(GOAWAY, 0, 0, u32(0)));
      await expectConnectionError(c, FRAME_SIZE_ERROR);
    });
  });

  test("DATA on a stream the client reset → RST_STREAM STREAM_CLOSED (5.1 closed)", async () => {
    await withRaw(async (c) => {
      c.send(headersFrame(1, requestFields("/t.T/Echo")), rst(1, CANCEL));
      await c.roundTrip();
      c.send(rawFrame(DATA, END_STREAM, 1, grpcFrame(Buffer.from("after my reset"))));
      const r = await c.next((f) => f.stream === 1 && f.type === RST_STREAM, "RST_STREAM on stream 1");
      expect(r.payload.readUInt32BE(0)).toBe(STREAM_CLOSED);
    });
  });
});
