// A client made before the node's socket exists (a test or a script that starts
// minosctl while the node boots) must not stay failed: the call that finds no
// socket fails UNAVAILABLE, and a later call connects once the server listens.
import { afterAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError, parseEndpoint, Transport } from "../../../src/api/transport.ts";

const dir = mkdtempSync(join(tmpdir(), "minos-reconnect-"));
const sock = join(dir, "s.sock");
const server = http2.createServer();
server.on("stream", (stream: http2.ServerHttp2Stream) => {
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a call before the socket exists fails UNAVAILABLE; once the server listens the same client's next call succeeds", async () => {
  const t = new Transport(parseEndpoint(`unix:${sock}`));
  try {
    const first = await t.unary("/x.Y/Z", new Uint8Array(0), { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ApiError);
    expect((first as ApiError).message).toContain("no such socket");
    await new Promise<void>((r) => server.listen(sock, r));
    expect(await t.unary("/x.Y/Z", new Uint8Array(0), { timeoutMs: 5000 })).toEqual(new Uint8Array(0));
  } finally {
    t.close();
  }
});
