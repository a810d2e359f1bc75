// The containerd client's gRPC layer against a small node:http2 server on a
// unix socket: request metadata reaches the server, bidirectional calls keep
// order and survive flow control, statuses become ApiErrors, cancel ends a
// stream quietly, and a dead connection is redialled.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError } from "../../../src/api/transport.ts";
import { Code } from "../../../src/api/status.ts";
import { Channel, Deframer, frame } from "../../../src/containerd/grpc.ts";
import { ContainerdClient } from "../../../src/containerd/index.ts";

let dir: string;
let sock: string;
let server: http2.Http2Server;
const seen: http2.IncomingHttpHeaders[] = [];

/** The error a promise rejects with (bun:test's `.rejects` can stall on a promise settled by later socket events). */
async function errorOf(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

function startServer(): Promise<void> {
  server = http2.createServer();
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    seen.push(headers);
    const path = String(headers[":path"]);
    const reply = (m: Uint8Array) => stream.write(frame(m));
    if (path === "/t.S/Fail") {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": String(Code.NOT_FOUND), "grpc-message": encodeURIComponent("no such thing: ü") },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": path === "/t.S/LateFail" ? String(Code.FAILED_PRECONDITION) : "0" }));
    const deframer = new Deframer();
    let total = 0;
    stream.on("data", (chunk: Buffer) => {
      for (const m of deframer.push(chunk)) {
        total += m.length;
        // Echo: one reply per request, carrying its length.
        if (path === "/t.S/Echo" || path === "/t.S/LateFail") reply(Buffer.from(String(m.length)));
      }
    });
    stream.on("end", () => {
      if (path === "/t.S/Sum") reply(Buffer.from(String(total)));
      if (path === "/t.S/Forever") return; // never ends by itself
      stream.end();
    });
  });
  return new Promise((r) => server.listen(sock, () => r()));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-ctd-grpc-"));
  sock = join(dir, "s.sock");
  await startServer();
});

afterAll(async () => {
  await new Promise((r) => server.close(() => r(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

describe("containerd gRPC channel", () => {
  test("unary sends the metadata headers and returns the reply", async () => {
    const ch = new Channel(sock);
    const r = await ch.unary("/t.S/Sum", new Uint8Array(5), { metadata: { "containerd-namespace": "k8s.io", "containerd-lease": "l1" } });
    expect(Buffer.from(r).toString()).toBe("5");
    const h = seen.at(-1)!;
    expect(h["containerd-namespace"]).toBe("k8s.io");
    expect(h["containerd-lease"]).toBe("l1");
    expect(h["content-type"]).toBe("application/grpc+proto");
    ch.close();
  });

  test("a bidirectional call gets one reply per request, in order, through flow control (64 x 256 KiB)", async () => {
    const ch = new Channel(sock);
    const call = ch.open("/t.S/Echo");
    const sizes = Array.from({ length: 64 }, (_, i) => 256 * 1024 + i);
    const replies = (async () => {
      const out: string[] = [];
      for await (const m of call) out.push(Buffer.from(m).toString());
      return out;
    })();
    for (const n of sizes) await call.send(new Uint8Array(n));
    call.end();
    expect(await replies).toEqual(sizes.map(String));
    await call.done;
    ch.close();
  });

  test("a trailers-only error becomes an ApiError with its code and decoded message", async () => {
    const ch = new Channel(sock);
    let err: unknown;
    try {
      await ch.unary("/t.S/Fail", new Uint8Array(0));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(Code.NOT_FOUND);
    expect((err as ApiError).message).toBe("no such thing: ü");
    ch.close();
  });

  test("an error status after replies ends the reply stream with that ApiError", async () => {
    const ch = new Channel(sock);
    const call = ch.open("/t.S/LateFail");
    await call.send(new Uint8Array(1));
    call.end();
    expect(Buffer.from((await call.next())!).toString()).toBe("1");
    expect(await errorOf(call.next())).toMatchObject({ code: Code.FAILED_PRECONDITION });
    ch.close();
  });

  test("cancel ends a waiting reader without an error", async () => {
    const ch = new Channel(sock);
    const call = ch.serverStream("/t.S/Forever", new Uint8Array(0));
    const reading = (async () => {
      let n = 0;
      for await (const _ of call) n++;
      return n;
    })();
    await Bun.sleep(20);
    call.cancel();
    expect(await reading).toBe(0);
    ch.close();
  });

  test("a missing socket is UNAVAILABLE naming the socket; the next call after it appears succeeds", async () => {
    const other = join(dir, "late.sock");
    const ch = new Channel(other);
    expect(await errorOf(ch.unary("/t.S/Sum", new Uint8Array(1)))).toMatchObject({ code: Code.UNAVAILABLE, message: expect.stringContaining(other) });
    const late = http2.createServer();
    late.on("stream", (s: http2.ServerHttp2Stream) => {
      s.respond({ ":status": 200 }, { waitForTrailers: true });
      s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
      s.on("data", () => {});
      s.on("end", () => s.end(frame(Buffer.from("ok"))));
    });
    await new Promise<void>((r) => late.listen(other, () => r()));
    try {
      expect(Buffer.from(await ch.unary("/t.S/Sum", new Uint8Array(1))).toString()).toBe("ok");
    } finally {
      ch.close();
      await new Promise((r) => late.close(() => r(undefined)));
    }
  });

  test("a deadline ends a call that gets no answer with DEADLINE_EXCEEDED", async () => {
    const ch = new Channel(sock);
    const call = ch.open("/t.S/Forever", { timeoutMs: 50 });
    await call.send(new Uint8Array(1));
    expect(await errorOf(call.next())).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(seen.at(-1)!["grpc-timeout"]).toBe("50m");
    ch.close();
  });

  test('tasks.create refuses stdout without stderr before calling (the runc shim would fail opening "")', async () => {
    const c = ContainerdClient.connect(join(dir, "none.sock"));
    expect(await errorOf(c.withNamespace("n").tasks.create("c", { stdout: "/x" }))).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(() => c.withNamespace("")).toThrow();
    c.close();
  });
});
