// A server that sends GOAWAY after answering (as the node does for idle and
// over-cap connections) must not break the client: the next call goes over a
// new session instead of failing with "New streams cannot be created".
import { afterAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEndpoint, Transport } from "../../../src/api/transport.ts";

const dir = mkdtempSync(join(tmpdir(), "minos-goaway-"));
const sock = join(dir, "s.sock");
let sessions = 0;
const server = http2.createServer();
server.on("session", (session) => {
  sessions++;
  session.on("stream", (stream) => {
    // A trailers-only gRPC OK reply with one empty message, then the session is sent away.
    stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    stream.on("close", () => session.goaway());
  });
});
await new Promise<void>((r) => server.listen(sock, r));
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("every call succeeds although the server sends GOAWAY after each answer; each goes over a session of its own", async () => {
  const t = new Transport(parseEndpoint(`unix:${sock}`));
  try {
    for (let i = 0; i < 5; i++) {
      expect(await t.unary("/x.Y/Z", new Uint8Array(0), { timeoutMs: 5000 })).toEqual(new Uint8Array(0));
      await Bun.sleep(20);
    }
    expect(sessions).toBe(5);
  } finally {
    t.close();
  }
});
