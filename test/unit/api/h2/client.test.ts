// Our HTTP/2 connection in its client role (src/api/h2/connect.ts, the
// containerd client's Channel in src/containerd/grpc.ts) against our own
// gRPC server: calls of every shape, request bodies larger than the server's
// windows (so the client waits for WINDOW_UPDATEs), many calls on one
// connection at once, cancellation, and a server that goes away. The same
// Channel is tested against Bun's node:http2 server in
// test/unit/containerd/grpc.test.ts and against containerd in the sandbox tier.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRPC_SERVER_DEFAULTS, GrpcServer, type MethodHandler } from "../../../../src/api/grpc-server.ts";
import { Code } from "../../../../src/api/status.ts";
import { ApiError } from "../../../../src/api/transport.ts";
import { Channel } from "../../../../src/containerd/grpc.ts";

let aborted = 0;
const methods = new Map<string, MethodHandler>([
  ["/t.T/Echo", { requestStream: false, handle: (call, req) => call.end(undefined, req) }],
  [
    "/t.T/Sum",
    {
      requestStream: true,
      handle: (call, requests) => {
        void (async () => {
          let total = 0;
          let hash = 0;
          for await (const m of requests) {
            total += m.length;
            for (const b of m) hash = (hash * 31 + b) >>> 0;
          }
          call.end(undefined, Buffer.from(`${total}:${hash}`));
        })().catch((e: Error) => call.end({ code: Code.INTERNAL, details: e.message }));
      },
    },
  ],
  [
    "/t.T/Count",
    {
      requestStream: false,
      handle: (call, req) => {
        const n = Number(Buffer.from(req).toString());
        for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
        call.end();
      },
    },
  ],
  [
    "/t.T/Hang",
    {
      requestStream: false,
      handle: (call) => {
        call.signal.addEventListener("abort", () => aborted++);
      },
    },
  ],
  ["/t.T/Meta", { requestStream: false, handle: (call) => call.end(undefined, Buffer.from(String(call.metadata.get("containerd-namespace")[0]))) }],
]);

let dir: string;
let socket: string;
let server: GrpcServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-h2-client-"));
  socket = join(dir, "s.sock");
  server = new GrpcServer(methods, { ...GRPC_SERVER_DEFAULTS, maxReceiveBytes: 8 << 20 });
  await server.listen({ path: socket });
});

afterAll(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

const waitFor = async (cond: () => boolean, what: string) => {
  const end = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
};

test("unary with metadata, and a server stream read to its end", async () => {
  const ch = new Channel(socket);
  try {
    expect(Buffer.from(await ch.unary("/t.T/Echo", Buffer.from("hi"))).toString()).toBe("hi");
    expect(Buffer.from(await ch.unary("/t.T/Meta", new Uint8Array(0), { metadata: { "containerd-namespace": "k8s.io" } })).toString()).toBe("k8s.io");
    const got: string[] = [];
    for await (const m of ch.serverStream("/t.T/Count", Buffer.from("50"))) got.push(Buffer.from(m).toString());
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  } finally {
    ch.close();
  }
});

test("a client stream of 24 MiB (past the server's 1 MiB stream and 4 MiB connection windows) arrives whole and in order", async () => {
  const ch = new Channel(socket);
  try {
    const call = ch.open("/t.T/Sum");
    let total = 0;
    let hash = 0;
    for (let i = 0; i < 24; i++) {
      const m = Buffer.alloc(1 << 20, i * 7 + 1);
      m[0] = i;
      total += m.length;
      for (const b of m) hash = (hash * 31 + b) >>> 0;
      await call.send(m);
    }
    call.end();
    expect(Buffer.from((await call.next())!).toString()).toBe(`${total}:${hash}`);
    await call.done;
  } finally {
    ch.close();
  }
});

test("60 calls at once on one connection each get their own reply", async () => {
  const ch = new Channel(socket);
  try {
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => ch.unary("/t.T/Echo", Buffer.from(`call ${i}`))));
    expect(replies.map((r) => Buffer.from(r).toString())).toEqual(Array.from({ length: 60 }, (_, i) => `call ${i}`));
  } finally {
    ch.close();
  }
});

test("errors: UNIMPLEMENTED with the server's message; a deadline; cancel aborts the server's handler", async () => {
  const ch = new Channel(socket);
  try {
    const e = await ch.unary("/t.T/Nope", new Uint8Array(0)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(Code.UNIMPLEMENTED);
    expect((e as ApiError).details).toContain("/t.T/Nope");
    const d = await ch.unary("/t.T/Hang", new Uint8Array(0), { timeoutMs: 100 }).catch((x: unknown) => x);
    expect((d as ApiError).code).toBe(Code.DEADLINE_EXCEEDED);
    const before = aborted;
    const call = ch.serverStream("/t.T/Hang", new Uint8Array(0));
    await Bun.sleep(50);
    call.cancel();
    expect(await call.next()).toBeUndefined();
    await waitFor(() => aborted >= before + 2, "the handlers' abort (deadline and cancel)");
  } finally {
    ch.close();
  }
});

test("a server that shuts down: the call in flight fails UNAVAILABLE or CANCELLED, the channel dials a new server at the same path", async () => {
  const path = join(dir, "restart.sock");
  let s = new GrpcServer(methods, GRPC_SERVER_DEFAULTS);
  await s.listen({ path });
  const ch = new Channel(path);
  try {
    expect(Buffer.from(await ch.unary("/t.T/Echo", Buffer.from("one"))).toString()).toBe("one");
    const hanging = ch.unary("/t.T/Hang", new Uint8Array(0)).catch((x: unknown) => x);
    await Bun.sleep(50);
    await s.shutdown(100);
    const e = (await hanging) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect([Code.UNAVAILABLE, Code.CANCELLED] as number[]).toContain(e.code);
    rmSync(path, { force: true });
    s = new GrpcServer(methods, GRPC_SERVER_DEFAULTS);
    await s.listen({ path });
    expect(Buffer.from(await ch.unary("/t.T/Echo", Buffer.from("two"))).toString()).toBe("two");
  } finally {
    ch.close();
    s.forceShutdown();
  }
});
