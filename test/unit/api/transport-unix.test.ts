// The machine API transport's unix endpoints run on our own HTTP/2
// (src/api/h2/grpc-client.ts) against a real node:http2 server: metadata
// lists go out one field per value, a stream the server refuses with its
// GOAWAY is sent again on a new connection, a client stream's messages all
// arrive in order, and an idle connection does not keep a one-shot command
// alive (as the node:http2 session's unref did).
import { afterAll, expect, test } from "bun:test";
import http2 from "node:http2";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseEndpoint, Transport } from "../../../src/api/transport.ts";
import { goawayFrame, HEADERS, NO_ERROR, PREFACE, settingsFrame } from "../../../src/api/h2/frames.ts";

const dir = mkdtempSync(join(tmpdir(), "minos-transport-unix-"));
const sock = join(dir, "s.sock");
const seen: { path: string; raw: string[]; messages: number }[] = [];

/** A gRPC reply of one message carrying `n` as one byte, status OK. */
function reply(stream: http2.ServerHttp2Stream, n: number): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(Buffer.from([0, 0, 0, 0, 1, n]));
}

const server = http2.createServer();
server.on("session", (session) => {
  session.on("stream", (stream, headers, _flags, raw) => {
    const entry = { path: String(headers[":path"]), raw, messages: 0 };
    seen.push(entry);
    let bytes = 0;
    stream.on("data", (d: Buffer) => (bytes += d.length));
    stream.on("end", () => {
      entry.messages = Math.floor(bytes / 6); // the test's messages are one byte each: 5 + 1
      reply(stream, entry.messages);
    });
  });
});
await new Promise<void>((r) => server.listen(sock, r));
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("metadata: a list goes out as one header field per value", async () => {
  const t = new Transport(parseEndpoint(`unix:${sock}`), undefined, { nodes: ["10.5.0.2", "10.5.0.3"], node: "n1" });
  try {
    expect(await t.unary("/x.Y/Meta", new Uint8Array([7]), { timeoutMs: 5000 })).toEqual(new Uint8Array([1]));
    const raw = seen.find((s) => s.path === "/x.Y/Meta")!.raw;
    const values = (name: string) => raw.flatMap((v, i) => (i % 2 === 0 && v === name ? [raw[i + 1]] : []));
    expect(values("nodes")).toEqual(["10.5.0.2", "10.5.0.3"]);
    expect(values("node")).toEqual(["n1"]);
    expect(values("user-agent")).toEqual(["minos-lean-client"]);
  } finally {
    t.close();
  }
});

/** Whether a chunk (the preface, then whole frames: a local socket's small writes) holds a HEADERS frame. */
function hasHeadersFrame(d: Buffer): boolean {
  for (let at = d.subarray(0, PREFACE.length).equals(PREFACE) ? PREFACE.length : 0; at + 9 <= d.length; at += 9 + d.readUIntBE(at, 3))
    if (d[at + 3] === HEADERS) return true;
  return false;
}

/**
 * A socket whose first connection answers the client's first HEADERS with GOAWAY naming stream 0 (so
 * the client's stream 1 was refused, as a server closing an idle connection does when a request
 * crosses its GOAWAY); later connections are piped to the node:http2 server.
 */
function refusingFront(path: string): { connections: () => number; stop: () => void } {
  let connections = 0;
  type Side = { n: number; upstream?: import("bun").Socket<undefined>; pending: Buffer[] };
  const front = Bun.listen<Side>({
    unix: path,
    socket: {
      open(s) {
        s.data = { n: ++connections, pending: [] };
        if (s.data.n === 1) return;
        void Bun.connect({
          unix: sock,
          socket: {
            open(u) {
              s.data.upstream = u;
              for (const b of s.data.pending) u.write(b);
              s.data.pending = [];
            },
            data: (_u, d) => void s.write(d),
            close: () => void s.end(),
            error: () => void s.end(),
          },
        });
      },
      data(s, d) {
        if (s.data.n === 1) {
          // Preface and SETTINGS first; the client's HEADERS (type 1) may come in the same chunk.
          s.write(settingsFrame([]));
          if (hasHeadersFrame(d)) s.write(goawayFrame(0, NO_ERROR));
          return;
        }
        if (s.data.upstream) s.data.upstream.write(d);
        else s.data.pending.push(Buffer.from(d));
      },
      close: (s) => void s.data?.upstream?.end(),
      error: () => {},
    },
  });
  return { connections: () => connections, stop: () => front.stop(true) };
}

test("a stream the server refuses with GOAWAY is sent once more, on a new connection", async () => {
  const frontPath = join(dir, "front.sock");
  const front = refusingFront(frontPath);
  const t = new Transport(parseEndpoint(`unix:${frontPath}`));
  try {
    expect(await t.unary("/x.Y/Refused", new Uint8Array([1]), { timeoutMs: 5000 })).toEqual(new Uint8Array([1]));
    expect(front.connections()).toBe(2);
    expect(seen.filter((s) => s.path === "/x.Y/Refused")).toHaveLength(1);
  } finally {
    t.close();
    front.stop();
  }
});

test("a client stream's messages all arrive, then its one reply", async () => {
  const t = new Transport(parseEndpoint(`unix:${sock}`));
  try {
    const bodies = Array.from({ length: 9 }, (_, i) => new Uint8Array([i]));
    expect(await t.clientStream("/x.Y/Many", bodies, { timeoutMs: 5000 })).toEqual(new Uint8Array([9]));
    async function* gen() {
      for (let i = 0; i < 4; i++) yield new Uint8Array([i]);
    }
    expect(await t.upload("/x.Y/Up", gen(), { timeoutMs: 5000 })).toEqual([new Uint8Array([4])]);
  } finally {
    t.close();
  }
});

test("an idle connection does not keep a one-shot command alive", async () => {
  const script = join(dir, "one-shot.ts");
  const transport = resolve(import.meta.dir, "../../../src/api/transport.ts");
  // One call, no close(): the process must end by itself once the call has.
  writeFileSync(
    script,
    `import { parseEndpoint, Transport } from ${JSON.stringify(transport)};\n` +
      `const t = new Transport(parseEndpoint(${JSON.stringify(`unix:${sock}`)}));\n` +
      `const r = await t.unary("/x.Y/OneShot", new Uint8Array([1]), { timeoutMs: 5000 });\n` +
      `console.log("reply", r.length);\n`,
  );
  const p = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
  const ended = await Promise.race([p.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
  if (!ended) p.kill();
  expect(ended).toBe(true);
  expect(p.exitCode).toBe(0);
  expect(await new Response(p.stdout).text()).toBe("reply 1\n");
});
