// The lean client's own deadline: a peer that accepts the connection and then
// never answers (no HTTP/2 SETTINGS, no reply) must fail the call with
// DEADLINE_EXCEEDED on time, not hang it; minosctl turns that into one line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError, Code, connect } from "../../../src/api/client.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";

let dir: string;
let socketPath: string;
let server: net.Server;
const peers = new Set<net.Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-silent-"));
  socketPath = join(dir, "silent.sock");
  server = net.createServer((s) => {
    peers.add(s); // accept, read nothing, answer nothing
    s.on("error", () => {});
    s.on("close", () => peers.delete(s));
  });
  await new Promise<void>((res) => server.listen(socketPath, res));
});
afterAll(async () => {
  for (const s of peers) s.destroy();
  await new Promise<void>((res) => server.close(() => res()));
  rmSync(dir, { recursive: true, force: true });
});

describe("client deadline", () => {
  test("a silent server fails a unary call with DEADLINE_EXCEEDED within the deadline", async () => {
    const c = connect({ endpoint: `unix:${socketPath}`, timeoutMs: 300 });
    const start = performance.now();
    try {
      const e = await c.version().then(
        () => undefined,
        (x: unknown) => x,
      );
      const took = performance.now() - start;
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).code).toBe(Code.DEADLINE_EXCEEDED);
      expect((e as ApiError).details).toBe(`no answer from unix:${socketPath} within 300 ms`);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(1000);
    } finally {
      c.close();
    }
  });

  test("minosctl against a silent server exits 1 with one line", async () => {
    const io = captureIo({ HOME: dir });
    const start = performance.now();
    const code = await main(["-n", `unix:${socketPath}`, "--timeout", "0.3", "version"], io);
    expect(performance.now() - start).toBeLessThan(1500);
    expect(code).toBe(1);
    expect(io.err).toBe(`minosctl: deadline exceeded: no answer from unix:${socketPath} within 300 ms\n`);
  });

  test("minosctl refuses a bad --timeout as a usage error", async () => {
    const io = captureIo({ HOME: dir });
    expect(await main(["-n", `unix:${socketPath}`, "--timeout", "soon", "version"], io)).toBe(2);
    expect(io.err).toContain("--timeout");
  });
});
