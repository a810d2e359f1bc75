// The one-call HTTP/2 client PID 1's containerd health checks use
// (src/api/h2/unary-client.ts), against two servers that are not it: our
// gRPC server (src/api/grpc-server.ts) and Bun's node:http2 server (another
// HTTP/2 implementation: its own HPACK choices, its own frame layout). The
// sandbox tier runs it against containerd itself on every boot.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { frame } from "../../../../src/api/framing.ts";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type MethodHandler } from "../../../../src/api/grpc-server.ts";
import { unaryOverSocket } from "../../../../src/api/h2/unary-client.ts";
import { Code, StatusError } from "../../../../src/api/status.ts";
import { ApiError } from "../../../../src/api/transport.ts";

const methods = new Map<string, MethodHandler>([
  ["/t.T/Echo", { requestStream: false, handle: (call, req) => call.end(undefined, req) }],
  [
    "/t.T/Fail",
    {
      requestStream: false,
      handle: (call) => call.end({ code: Code.FAILED_PRECONDITION, details: "not now: 100% busy\nreally" }),
    },
  ],
  ["/t.T/Meta", { requestStream: false, handle: (call) => call.end(undefined, Buffer.from(String(call.metadata.get("x-who")[0] ?? "none"))) }],
  ["/t.T/Big", { requestStream: false, handle: (call) => call.end(undefined, Buffer.alloc(300_000, 7)) }],
  ["/t.T/Never", { requestStream: false, handle: () => {} }],
  ["/t.T/Left", { requestStream: false, handle: (call) => call.end(undefined, Buffer.from(String(call.deadline - Date.now()))) }],
  [
    "/t.T/Throw",
    {
      requestStream: false,
      handle: () => {
        throw new StatusError(Code.PERMISSION_DENIED, "no");
      },
    },
  ],
]);

let dir: string;
let ours: string;
let theirs: string;
let closer: string;
let server: GrpcServer;
let h2: http2.Http2Server;
let rude: net.Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-unary-"));
  ours = join(dir, "ours.sock");
  theirs = join(dir, "theirs.sock");
  closer = join(dir, "closer.sock");
  server = new GrpcServer(methods, GRPC_SERVER_DEFAULTS);
  await server.listen({ path: ours });
  // A gRPC health server on Bun's node:http2: SERVING, in headers, one DATA frame and trailers.
  h2 = http2.createServer();
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on("data", () => {});
    stream.on("end", () => {
      if (headers[":path"] !== "/grpc.health.v1.Health/Check") {
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "no%20such%20method" }, { endStream: true });
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame(Buffer.from([0x08, 0x01])));
    });
  });
  await new Promise<void>((r) => h2.listen(theirs, r));
  // A server that accepts and hangs up at once.
  rude = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => rude.listen(closer, r));
});

afterAll(async () => {
  server.forceShutdown();
  h2.close();
  rude.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (path: string, method: string, body: Uint8Array = new Uint8Array(0), timeoutMs = 2000, metadata?: Record<string, string>) =>
  unaryOverSocket(path, method, body, { timeoutMs, metadata });

const failure = async (p: Promise<unknown>): Promise<ApiError> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(e)}`);
  return e;
};

test("a reply from our server: the request echoed, metadata delivered, a 300 KB reply whole", async () => {
  expect(Buffer.from(await call(ours, "/t.T/Echo", Buffer.from("hello")))).toEqual(Buffer.from("hello"));
  expect(Buffer.from(await call(ours, "/t.T/Meta", new Uint8Array(0), 2000, { "x-who": "pid1" })).toString()).toBe("pid1");
  const big = Buffer.from(await call(ours, "/t.T/Big"));
  expect(big.length).toBe(300_000);
  expect(big.every((b) => b === 7)).toBe(true);
});

test("error statuses arrive with their code and decoded message (trailers-only and thrown)", async () => {
  const e = await failure(call(ours, "/t.T/Fail"));
  expect(e.code).toBe(Code.FAILED_PRECONDITION);
  expect(e.details).toBe("not now: 100% busy\nreally");
  expect((await failure(call(ours, "/t.T/Throw"))).code).toBe(Code.PERMISSION_DENIED);
  expect((await failure(call(ours, "/t.T/Nope"))).code).toBe(Code.UNIMPLEMENTED);
});

test("Bun's node:http2 server: health SERVING decoded; its trailers-only error too", async () => {
  expect([...(await call(theirs, "/grpc.health.v1.Health/Check"))]).toEqual([0x08, 0x01]);
  const e = await failure(call(theirs, "/grpc.health.v1.Health/Watch"));
  expect(e.code).toBe(Code.UNIMPLEMENTED);
  expect(e.details).toBe("no such method");
});

test("no answer within the timeout is DEADLINE_EXCEEDED; the server saw our grpc-timeout too", async () => {
  const t0 = Date.now();
  const e = await failure(call(ours, "/t.T/Never", new Uint8Array(0), 150));
  expect(e.code).toBe(Code.DEADLINE_EXCEEDED);
  expect(Date.now() - t0).toBeLessThan(2000);
  const left = Number(Buffer.from(await call(ours, "/t.T/Left", new Uint8Array(0), 1500)).toString());
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThanOrEqual(1500);
});

test("no socket, or a server that hangs up, is UNAVAILABLE with the address", async () => {
  const none = await failure(call(join(dir, "missing.sock"), "/t.T/Echo"));
  expect(none.code).toBe(Code.UNAVAILABLE);
  expect(none.details).toContain("missing.sock");
  const hung = await failure(call(closer, "/t.T/Echo"));
  expect(hung.code).toBe(Code.UNAVAILABLE);
  expect(hung.details).toContain("closer.sock");
});

test("a request over 16 KiB is refused before connecting", async () => {
  const e = await failure(call(ours, "/t.T/Echo", new Uint8Array(20_000)));
  expect(e.code).toBe(Code.INTERNAL);
});
