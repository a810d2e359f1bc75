// Conformance of minos's own gRPC server (src/api/grpc-server.ts, framing.ts):
// driven by three clients — grpc-js (an independent implementation), minos's
// own client transport (src/api/transport.ts), and raw node:http2 for what
// well-behaved clients never do (reset mid-stream, never read, lie about
// sizes, wrong content-type, compressed flags, odd grpc-timeout units).
// Part one uses a server with test methods (bytes in, bytes out); part two
// the real machine API over a FakeBackend: health, reflection, unknown
// methods, the receive limit, mutual TLS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageReader, frame, parseGrpcTimeout, percentDecode, percentEncode } from "../../../src/api/framing.ts";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type MethodHandler, type ServerCall } from "../../../src/api/grpc-server.ts";
import { encode } from "../../../src/api/schema.ts";
import { Code, StatusError, type StatusCode } from "../../../src/api/status.ts";
import { ApiError, Transport } from "../../../src/api/transport.ts";
import { certFor, rawLocal, rawRemote, startFixture, type ApiFixture } from "../../helpers/fake-backend.ts";
import { neverReadingClients, unixDial } from "../../sandbox/reliability/api-attack.ts";

const MAX_RECEIVE = 64 * 1024;
const MAX_SEND = 256 * 1024;
const FLOOD_CHUNK = 32 * 1024;

/** What the test methods saw, for assertions on the server side. */
const seen = {
  slowAborted: 0,
  slowStarted: 0,
  flood: { written: 0, flushed: 0, drains: 0, stopped: 0, active: 0, maxUnflushed: 0 },
  lastMetadata: {} as Record<string, string[]>,
};

const utf8 = (b: Uint8Array) => Buffer.from(b).toString();

const testMethods = new Map<string, MethodHandler>([
  [
    "/test.T/Echo",
    {
      requestStream: false,
      handle(call, request) {
        const md: Record<string, string[]> = {};
        for (const k of call.metadata.keys()) md[k] = call.metadata.get(k).map((v) => (Buffer.isBuffer(v) ? `bin:${v.toString("hex")}` : v));
        seen.lastMetadata = md;
        call.end(undefined, request);
      },
    },
  ],
  [
    "/test.T/Fail",
    {
      requestStream: false,
      handle(call, request) {
        const { code, message } = JSON.parse(utf8(request)) as { code: number; message: string };
        call.end({ code: code as StatusCode, details: message });
      },
    },
  ],
  [
    // Answers only when the client goes or the deadline passes.
    "/test.T/Slow",
    {
      requestStream: false,
      handle(call) {
        seen.slowStarted++;
        call.signal.addEventListener("abort", () => {
          seen.slowAborted++;
          call.end(undefined, Buffer.from("late")); // ignored: the call is over
        });
      },
    },
  ],
  [
    "/test.T/Big",
    {
      requestStream: false,
      handle(call, request) {
        call.end(undefined, Buffer.alloc(Number(utf8(request)), 0x61));
      },
    },
  ],
  [
    // Writes FLOOD_CHUNK messages as fast as HTTP/2 takes them, forever, respecting write() === false.
    "/test.T/Flood",
    {
      requestStream: false,
      handle(call) {
        const f = seen.flood;
        f.active++;
        const stop = () => {
          f.stopped++;
          f.active--;
        };
        const chunk = Buffer.alloc(FLOOD_CHUNK, 0x62);
        const pump = () => {
          while (!call.signal.aborted) {
            f.written += chunk.length;
            f.maxUnflushed = Math.max(f.maxUnflushed, f.written - f.flushed);
            const more = call.write(chunk, () => {
              f.flushed += chunk.length;
            });
            if (!more) {
              // Woken when the client read enough, or when the stream closed (then the loop sees the abort).
              call.onDrain(() => {
                f.drains++;
                pump();
              });
              return;
            }
          }
          stop();
        };
        pump();
      },
    },
  ],
  [
    // n messages of the requested size, then OK.
    "/test.T/Count",
    {
      requestStream: false,
      handle(call, request) {
        const n = Number(utf8(request));
        for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
        call.end();
      },
    },
  ],
  [
    // Client stream: replies with how many requests and bytes came.
    "/test.T/Sum",
    {
      requestStream: true,
      handle(call, requests) {
        (async () => {
          let n = 0;
          let bytes = 0;
          for await (const r of requests) {
            n++;
            bytes += r.length;
          }
          return `${n} ${bytes}`;
        })().then(
          (s) => call.end(undefined, Buffer.from(s)),
          (e) => call.end({ code: e instanceof StatusError ? e.code : Code.INTERNAL, details: String(e) }),
        );
      },
    },
  ],
]);

let dir: string;
let socket: string;
let server: GrpcServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-grpc-conf-"));
  socket = join(dir, "t.sock");
  server = new GrpcServer(testMethods, { ...GRPC_SERVER_DEFAULTS, maxReceiveBytes: MAX_RECEIVE, maxSendBytes: MAX_SEND });
  await server.listen({ path: socket });
});
afterAll(async () => {
  try {
    await server?.shutdown(200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const waitFor = async (cond: () => boolean, ms = 5000, what = "condition") => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
};

// --- clients -------------------------------------------------------------

const id = (b: Buffer) => b;
const grpcJs = () => new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());

function jsUnary(c: grpc.Client, path: string, body: Buffer, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<Buffer> {
  return new Promise((res, rej) => c.makeUnaryRequest(path, id, id, body, md, opts, (e, r) => (e ? rej(e) : res(r!))));
}

/** What a raw HTTP/2 call got: response headers, the DATA bytes, trailers, how the stream closed. */
interface RawResult {
  headers: http2.IncomingHttpHeaders;
  data: Buffer;
  trailers?: http2.IncomingHttpHeaders;
  rstCode: number;
}

function rawSession(): http2.ClientHttp2Session {
  const s = http2.connect("http://localhost", { createConnection: () => net.connect(socket) });
  s.on("error", () => {});
  return s;
}

function rawCall(s: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, end = true): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const stream = s.request({ ":method": "POST", "content-type": "application/grpc", te: "trailers", ...headers });
    let got: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (got = h));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("error", () => {});
    stream.on("close", () => resolve({ headers: got, data: Buffer.concat(chunks), trailers, rstCode: stream.rstCode ?? 0 }));
    setTimeout(() => reject(new Error("raw call did not close within 10 s")), 10_000).unref();
    if (body) stream.write(body);
    if (end) stream.end();
  });
}

/** The status of a raw result, from trailers or (trailers-only) the headers. */
const statusOf = (r: RawResult) => ({
  code: Number((r.trailers ?? r.headers)["grpc-status"]),
  message: percentDecode(String((r.trailers ?? r.headers)["grpc-message"] ?? "")),
});

// --- framing -------------------------------------------------------------

describe("framing", () => {
  test("grpc-timeout: every unit; more than 8 digits or no unit is malformed", () => {
    expect(parseGrpcTimeout("2H")).toBe(7_200_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("5S")).toBe(5000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1500u")).toBe(1.5);
    expect(parseGrpcTimeout("2000000n")).toBe(2);
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
    for (const bad of ["123456789m", "10", "m", "-1S", "1.5S", "10s"]) expect(parseGrpcTimeout(bad)).toBeNaN();
  });

  test("grpc-message percent-encoding: printable ASCII as is, '%', controls and UTF-8 escaped, and back", () => {
    expect(percentEncode("plain text: ok")).toBe("plain text: ok");
    expect(percentEncode("100%\nü")).toBe("100%25%0A%C3%BC");
    expect(percentDecode("100%25%0A%C3%BC")).toBe("100%\nü");
    expect(percentDecode("bad %zz escape")).toBe("bad %zz escape");
  });

  test("messages split across and joined within chunks; a prefix over the limit fails before its body", () => {
    const r = new MessageReader(10, undefined);
    const two = Buffer.concat([frame(Buffer.from("abc")), frame(Buffer.from("defgh"))]);
    expect(r.push(two.subarray(0, 4))).toEqual([]);
    expect(r.push(two.subarray(4, 9)).map(utf8)).toEqual(["abc"]);
    expect(r.push(two.subarray(9)).map(utf8)).toEqual(["defgh"]);
    expect(r.buffered).toBe(0);
    const head = Buffer.from([0, 0, 0, 0, 11]);
    expect(() => new MessageReader(10, undefined).push(head)).toThrow(/larger than max \(11 vs\. 10\)/);
  });
});

// --- a server with test methods ------------------------------------------

describe("grpc-js client", () => {
  test("unary: the reply bytes; text and binary (-bin) metadata arrive decoded", async () => {
    const c = grpcJs();
    try {
      const md = new grpc.Metadata();
      md.add("x-text", "hello");
      md.add("x-text", "world");
      md.add("x-data-bin", Buffer.from([0, 1, 2, 255]));
      const r = await jsUnary(c, "/test.T/Echo", Buffer.from("ping"), md);
      expect(utf8(r)).toBe("ping");
      expect(seen.lastMetadata["x-data-bin"]).toEqual(["bin:000102ff"]);
      expect(seen.lastMetadata["x-text"]!.flatMap((v) => v.split(",")).map((v) => v.trim())).toEqual(["hello", "world"]);
      expect(seen.lastMetadata["grpc-timeout"]).toBeUndefined();
    } finally {
      c.close();
    }
  });

  test("an error status and a message with '%', a newline and UTF-8 arrive exactly", async () => {
    const c = grpcJs();
    try {
      const message = "disk 100% full\nüber";
      const e = await jsUnary(c, "/test.T/Fail", Buffer.from(JSON.stringify({ code: Code.FAILED_PRECONDITION, message }))).catch((x) => x);
      expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(e.details).toBe(message);
    } finally {
      c.close();
    }
  });

  test("a deadline: the client gets DEADLINE_EXCEEDED and the handler's signal aborts", async () => {
    const c = grpcJs();
    try {
      const before = seen.slowAborted;
      const t0 = Date.now();
      const e = await jsUnary(c, "/test.T/Slow", Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 150 }).catch((x) => x);
      expect(e.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - t0).toBeLessThan(2000);
      await waitFor(() => seen.slowAborted === before + 1, 2000, "the handler's abort");
    } finally {
      c.close();
    }
  });

  test("server stream, client stream, and an unknown method (UNIMPLEMENTED)", async () => {
    const c = grpcJs();
    try {
      const got = await new Promise<string[]>((res, rej) => {
        const out: string[] = [];
        const s = c.makeServerStreamRequest("/test.T/Count", id, id, Buffer.from("50"));
        s.on("data", (b: Buffer) => out.push(utf8(b)));
        s.on("error", rej);
        s.on("end", () => res(out));
      });
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
      const sum = await new Promise<string>((res, rej) => {
        const s = c.makeClientStreamRequest("/test.T/Sum", id, id, (e, r) => (e ? rej(e) : res(utf8(r!))));
        for (let i = 0; i < 200; i++) s.write(Buffer.alloc(1000));
        s.end();
      });
      expect(sum).toBe("200 200000");
      const e = await jsUnary(c, "/test.T/Nope", Buffer.alloc(0)).catch((x) => x);
      expect(e.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(e.details).toContain("/test.T/Nope");
    } finally {
      c.close();
    }
  });

  test("a reply over the send limit is RESOURCE_EXHAUSTED; one at the limit arrives", async () => {
    const c = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": 4 * MAX_SEND });
    try {
      expect((await jsUnary(c, "/test.T/Big", Buffer.from(String(MAX_SEND)))).length).toBe(MAX_SEND);
      const e = await jsUnary(c, "/test.T/Big", Buffer.from(String(MAX_SEND + 1))).catch((x) => x);
      expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(e.details).toContain("larger than max");
    } finally {
      c.close();
    }
  });

  test("a request over the receive limit is RESOURCE_EXHAUSTED", async () => {
    const c = grpcJs();
    try {
      const e = await jsUnary(c, "/test.T/Echo", Buffer.alloc(MAX_RECEIVE + 1)).catch((x) => x);
      expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(e.details).toContain(`${MAX_RECEIVE + 1} vs. ${MAX_RECEIVE}`);
    } finally {
      c.close();
    }
  });
});

describe("minos's client transport", () => {
  test("unary, server stream, client stream, status with message, deadline", async () => {
    const t = new Transport({ kind: "unix", path: socket });
    try {
      expect(utf8(await t.unary("/test.T/Echo", Buffer.from("hi")))).toBe("hi");
      const got: string[] = [];
      for await (const m of t.serverStream("/test.T/Count", Buffer.from("20"))) got.push(utf8(m));
      expect(got.length).toBe(20);
      expect(utf8(await t.clientStream("/test.T/Sum", [Buffer.alloc(3), Buffer.alloc(4)]))).toBe("2 7");
      const e = (await t.unary("/test.T/Fail", Buffer.from(JSON.stringify({ code: Code.NOT_FOUND, message: "no such ünit 50%" }))).catch((x) => x)) as ApiError;
      expect(e).toBeInstanceOf(ApiError);
      expect(e.code).toBe(Code.NOT_FOUND);
      expect(e.details).toBe("no such ünit 50%");
      const before = seen.slowAborted;
      const d = (await t.unary("/test.T/Slow", Buffer.alloc(0), { timeoutMs: 100 }).catch((x) => x)) as ApiError;
      expect(d.code).toBe(Code.DEADLINE_EXCEEDED);
      await waitFor(() => seen.slowAborted === before + 1, 2000, "the handler's abort");
      const u = (await t.unary("/no.Such/Method", Buffer.alloc(0)).catch((x) => x)) as ApiError;
      expect(u.code).toBe(Code.UNIMPLEMENTED);
    } finally {
      t.close();
    }
  });
});

describe("raw HTTP/2 edge cases", () => {
  test("an error before any message is trailers-only: status in the one HEADERS frame, no DATA", async () => {
    const s = rawSession();
    try {
      const r = await rawCall(s, { ":path": "/test.T/Nope" }, frame(Buffer.alloc(0)));
      expect(Number(r.headers[":status"])).toBe(200);
      expect(r.headers["grpc-status"]).toBe(String(Code.UNIMPLEMENTED));
      expect(r.trailers).toBeUndefined();
      expect(r.data.length).toBe(0);
      // A reply: headers, one message, status in trailers.
      const ok = await rawCall(s, { ":path": "/test.T/Echo" }, frame(Buffer.from("x")));
      expect(ok.headers["grpc-status"]).toBeUndefined();
      expect(ok.headers["content-type"]).toBe("application/grpc+proto");
      expect(ok.data).toEqual(frame(Buffer.from("x")));
      expect(ok.trailers?.["grpc-status"]).toBe("0");
    } finally {
      s.close();
    }
  });

  test("a content-type that is not application/grpc is HTTP 415; a missing one too", async () => {
    const s = rawSession();
    try {
      const bad = await rawCall(s, { ":path": "/test.T/Echo", "content-type": "application/json" }, Buffer.from("{}"));
      expect(Number(bad.headers[":status"])).toBe(415);
      const none = await new Promise<http2.IncomingHttpHeaders>((res) => {
        const st = s.request({ ":method": "POST", ":path": "/test.T/Echo" });
        st.on("response", res);
        st.on("error", () => {});
        st.end();
      });
      expect(Number(none[":status"])).toBe(415);
    } finally {
      s.close();
    }
  });

  test("grpc-timeout in u and n units, and a malformed one (INTERNAL)", async () => {
    const s = rawSession();
    try {
      for (const [timeout, want] of [
        ["200000u", 200],
        ["90000000n", 90],
      ] as const) {
        const t0 = Date.now();
        const r = await rawCall(s, { ":path": "/test.T/Slow", "grpc-timeout": timeout }, frame(Buffer.alloc(0)));
        const ms = Date.now() - t0;
        expect(statusOf(r).code).toBe(Code.DEADLINE_EXCEEDED);
        expect(ms).toBeGreaterThanOrEqual(want - 15);
        expect(ms).toBeLessThan(want + 1000);
      }
      const bad = await rawCall(s, { ":path": "/test.T/Echo", "grpc-timeout": "soon" }, frame(Buffer.alloc(0)));
      expect(statusOf(bad).code).toBe(Code.INTERNAL);
      expect(statusOf(bad).message).toContain("grpc-timeout");
    } finally {
      s.close();
    }
  });

  test("compressed messages: with grpc-encoding gzip UNIMPLEMENTED (and identity offered), without one INTERNAL", async () => {
    const s = rawSession();
    try {
      const compressed = frame(Buffer.from("x"));
      compressed[0] = 1;
      const gz = await rawCall(s, { ":path": "/test.T/Echo", "grpc-encoding": "gzip" }, compressed);
      expect(statusOf(gz).code).toBe(Code.UNIMPLEMENTED);
      expect(gz.headers["grpc-accept-encoding"]).toBe("identity");
      const none = await rawCall(s, { ":path": "/test.T/Echo" }, compressed);
      expect(statusOf(none).code).toBe(Code.INTERNAL);
    } finally {
      s.close();
    }
  });

  test("an over-size request is refused from its 5-byte prefix alone, while the client still holds the body; the stream is then reset", async () => {
    const s = rawSession();
    try {
      const head = Buffer.from([0, 0, 0, 0, 0]);
      head.writeUInt32BE(50 * 1024 * 1024, 1);
      // The client never half-closes: the server answers and resets the stream (NO_ERROR), or the call would never close.
      const r = await rawCall(s, { ":path": "/test.T/Echo" }, head, false);
      expect(statusOf(r).code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(r.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      s.close();
    }
  });

  test("a unary call with no request message, or two, is INTERNAL", async () => {
    const s = rawSession();
    try {
      expect(statusOf(await rawCall(s, { ":path": "/test.T/Echo" })).code).toBe(Code.INTERNAL);
      const two = Buffer.concat([frame(Buffer.from("a")), frame(Buffer.from("b"))]);
      expect(statusOf(await rawCall(s, { ":path": "/test.T/Echo" }, two)).code).toBe(Code.INTERNAL);
    } finally {
      s.close();
    }
  });

  test("RST_STREAM of a unary call in progress: the handler's signal aborts", async () => {
    const s = rawSession();
    try {
      const started = seen.slowStarted;
      const aborted = seen.slowAborted;
      const st = s.request({ ":method": "POST", ":path": "/test.T/Slow", "content-type": "application/grpc", te: "trailers" });
      st.on("error", () => {});
      st.end(frame(Buffer.alloc(0)));
      await waitFor(() => seen.slowStarted === started + 1, 3000, "the handler to start");
      expect(seen.slowAborted).toBe(aborted);
      st.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => seen.slowAborted === aborted + 1, 3000, "the handler's abort");
    } finally {
      s.close();
    }
  });

  test("RST_STREAM mid server stream: the handler's signal aborts and it stops writing", async () => {
    const s = rawSession();
    try {
      const before = seen.flood.stopped;
      const st = s.request({ ":method": "POST", ":path": "/test.T/Flood", "content-type": "application/grpc", te: "trailers" });
      st.on("error", () => {});
      let got = 0;
      await new Promise<void>((res) => {
        st.on("data", (c: Buffer) => {
          got += c.length;
          if (got > 4 * FLOOD_CHUNK) res();
        });
        st.end(frame(Buffer.alloc(0)));
      });
      st.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => seen.flood.stopped === before + 1, 3000, "the flood handler to stop");
      const written = seen.flood.written;
      await Bun.sleep(200);
      expect(seen.flood.written).toBe(written);
      expect(seen.flood.active).toBe(0);
    } finally {
      s.close();
    }
  });

  test("a client that never reads: write() backpressure holds the server's unflushed bytes bounded", async () => {
    const f = seen.flood;
    f.maxUnflushed = 0;
    const before = f.stopped;
    const c = await neverReadingClients(unixDial(socket), 1, 1, [{ path: "/test.T/Flood", requestType: "google.protobuf.Empty", request: {} }]);
    try {
      await waitFor(() => f.active === 1, 3000, "the flood to start");
      // Long enough for an unbounded writer to queue hundreds of MiB.
      await Bun.sleep(1000);
      const drainsWhileStuck = f.drains;
      await Bun.sleep(500);
      // The writer is parked on 'drain': nothing more is accepted while the client reads nothing.
      expect(f.drains).toBe(drainsWhileStuck);
      // Bun alone would have queued up to the client's 2 GiB window; delivery is confirmed by PING instead.
      expect(f.written).toBeLessThan(1024 * 1024);
      expect(f.maxUnflushed).toBeLessThan(1024 * 1024);
    } finally {
      c.kill();
    }
    await waitFor(() => f.stopped === before + 1, 3000, "the flood to stop once the client went");
  });
});

describe("connections", () => {
  test("keepalive: a peer that answers no PING is disconnected after keepaliveTimeoutMs; one that answers stays", async () => {
    const path = join(dir, "keepalive.sock");
    const ka = new GrpcServer(testMethods, { ...GRPC_SERVER_DEFAULTS, keepaliveMs: 200, keepaliveTimeoutMs: 300 });
    await ka.listen({ path });
    // Frame-level client: opens the connection and one quiet call, then never reads (so never ACKs a PING).
    const deaf = await neverReadingClients(unixDial(path), 1, 1, [{ path: "/test.T/Slow", requestType: "google.protobuf.Empty", request: {} }]);
    const t = new Transport({ kind: "unix", path });
    try {
      await t.unary("/test.T/Echo", Buffer.from("x"));
      await waitFor(() => ka.connections === 2, 3000, "both connections");
      // The deaf one goes (its socket is paused, so the server's count is what shows it).
      await waitFor(() => ka.connections === 1, 3000, "the deaf connection to be closed");
      // The answering client's connection survived the same pings.
      await Bun.sleep(400);
      expect(utf8(await t.unary("/test.T/Echo", Buffer.from("still here")))).toBe("still here");
      expect(ka.connections).toBe(1);
    } finally {
      deaf.kill();
      t.close();
      await ka.shutdown(100);
    }
  });
});

describe("idle connections", () => {
  test("a connection with no open stream gets GOAWAY after idleMs, counted from its last stream's end; an open stream holds it", async () => {
    const path = join(dir, "idle.sock");
    const IDLE = 300;
    const srv = new GrpcServer(testMethods, { ...GRPC_SERVER_DEFAULTS, idleMs: IDLE });
    await srv.listen({ path });
    const t = new Transport({ kind: "unix", path });
    try {
      // Calls spaced under idleMs keep the connection: each end restarts the count.
      for (let i = 0; i < 4; i++) {
        await t.unary("/test.T/Echo", Buffer.from("x"));
        await Bun.sleep(IDLE / 2);
      }
      expect(srv.connections).toBe(1);
      // A call open for longer than idleMs: the connection stays while it runs...
      const slow = t.unary("/test.T/Slow", Buffer.alloc(0), { timeoutMs: IDLE * 2.5 }).catch((e: unknown) => e);
      await Bun.sleep(IDLE * 1.5);
      expect(srv.connections).toBe(1);
      expect(((await slow) as ApiError).code).toBe(Code.DEADLINE_EXCEEDED);
      const ended = performance.now();
      // ...and goes idleMs after the call ended, not before.
      await Bun.sleep(IDLE / 3);
      expect(srv.connections).toBe(1);
      await waitFor(() => srv.connections === 0, 3000, "the idle connection to be closed");
      expect(performance.now() - ended).toBeGreaterThanOrEqual(IDLE - 20);
    } finally {
      t.close();
      await srv.shutdown(100);
    }
  });
});

// --- the machine API over it --------------------------------------------

describe("the machine API", () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => {
    await f?.close();
  });

  test("health: grpc-js Check and Watch say SERVING; minos's transport Check too; an unknown service is NOT_FOUND", async () => {
    const h = rawLocal(f, "grpc.health.v1.Health");
    try {
      expect((await h.unary("Check", { service: "" })).status).toBe("SERVING");
      expect((await h.unary("Check", { service: "machine.MachineService" })).status).toBe("SERVING");
      const e = await h.unary("Check", { service: "no.Such" }).catch((x) => x);
      expect(e.code).toBe(grpc.status.NOT_FOUND);
      const w = h.stream("Watch", { service: "" });
      const first = await new Promise<{ status: string }>((res, rej) => {
        w.on("data", res);
        w.on("error", rej);
      });
      expect(first.status).toBe("SERVING");
      w.cancel();
    } finally {
      h.close();
    }
    const t = new Transport({ kind: "unix", path: f.socketPath });
    try {
      const r = await t.unary("/grpc.health.v1.Health/Check", Buffer.alloc(0), { timeoutMs: 2000 });
      expect([...r]).toEqual([0x08, 0x01]); // status = SERVING
    } finally {
      t.close();
    }
  });

  test("reflection (v1 and v1alpha): list_services over the bidi stream names the machine API", async () => {
    for (const svc of ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] as const) {
      const r = rawLocal(f, svc);
      try {
        const call = (
          r.client as unknown as Record<string, () => grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }>>
        ).ServerReflectionInfo!.call(r.client);
        const reply = await new Promise<{ list_services_response?: { service: { name: string }[] } }>((res, rej) => {
          call.on("data", res);
          call.on("error", rej);
          call.write({ host: "", list_services: "" });
        });
        call.end();
        expect(reply.list_services_response!.service.map((s) => s.name)).toContain("machine.MachineService");
      } finally {
        r.close();
      }
    }
  });

  test("Version over grpc-js (socket and mutual TLS) and minos's transport; an unknown method is UNIMPLEMENTED", async () => {
    const local = rawLocal(f);
    const remote = rawRemote(f, certFor(f, "os:reader"));
    try {
      expect((await local.unary("Version")).messages[0].version.tag).toBeTruthy();
      expect((await remote.unary("Version")).messages[0].version.tag).toBeTruthy();
    } finally {
      local.close();
      remote.close();
    }
    const t = new Transport({ kind: "unix", path: f.socketPath });
    try {
      expect((await t.unary("/machine.MachineService/Version", encode("google.protobuf.Empty", {}))).length).toBeGreaterThan(0);
      const e = (await t.unary("/machine.MachineService/NoSuchCall", Buffer.alloc(0)).catch((x) => x)) as ApiError;
      expect(e.code).toBe(Code.UNIMPLEMENTED);
    } finally {
      t.close();
    }
  });

  test("a config larger than the 4 MiB receive limit is RESOURCE_EXHAUSTED, and the server keeps answering", async () => {
    const t = new Transport({ kind: "unix", path: f.socketPath });
    try {
      const big = encode("machine.ApplyConfigurationRequest", { data: Buffer.alloc(4 * 1024 * 1024 + 10, 0x20) });
      const e = (await t.unary("/machine.MachineService/ApplyConfiguration", big, { timeoutMs: 10_000 }).catch((x) => x)) as ApiError;
      expect(e.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect((await t.unary("/machine.MachineService/Version", Buffer.alloc(0), { timeoutMs: 5000 })).length).toBeGreaterThan(0);
    } finally {
      t.close();
    }
  });

  test("a TLS client without a certificate is refused at the handshake", async () => {
    const c = rawRemote(f, undefined);
    try {
      const e = await c.unary("Version").catch((x) => x);
      expect(e.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      c.close();
    }
  });

  test("a call's handler sees the request's deadline (forwarding passes the rest on)", async () => {
    // ServerCall.deadline from grpc-timeout: checked through the test server's Echo, which reads nothing else.
    let deadline = 0;
    const probe = new GrpcServer(
      new Map<string, MethodHandler>([
        [
          "/p.P/D",
          {
            requestStream: false,
            handle(call: ServerCall) {
              deadline = call.deadline;
              call.end(undefined, Buffer.alloc(0));
            },
          },
        ],
      ]),
    );
    const path = join(dir, "probe.sock");
    await probe.listen({ path });
    const t = new Transport({ kind: "unix", path });
    try {
      const t0 = Date.now();
      await t.unary("/p.P/D", Buffer.alloc(0), { timeoutMs: 3000 });
      expect(deadline - t0).toBeGreaterThan(2500);
      expect(deadline - t0).toBeLessThanOrEqual(3100);
      await t.unary("/p.P/D", Buffer.alloc(0));
      expect(deadline).toBe(Number.POSITIVE_INFINITY);
    } finally {
      t.close();
      await probe.shutdown(100);
    }
  });
});
