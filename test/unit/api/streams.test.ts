// The stream bounds of the machine API server (src/api/streams.ts and
// server.ts's sink), in-process over a FakeBackend with small limits: caps
// per connection, per certificate and in total; a client that never reads is
// ended and its bytes given back; a client that reads gets a history longer
// than its stream's share, paced, without being cut.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa, issueClientCert } from "../../../src/api/pki/certs.ts";
import { type MachineApi, startMachineApi } from "../../../src/api/server.ts";
import { STREAM_LIMITS, StreamGate, type StreamLimits } from "../../../src/api/streams.ts";
import { FakeBackend, rawLocal, rawRemote, type ApiFixture, type RawClient } from "../../helpers/fake-backend.ts";
import { neverReadingClients, tlsDial, unixDial } from "../../sandbox/reliability/api-attack.ts";

const LIMITS: StreamLimits = {
  ...STREAM_LIMITS,
  perStreamBytes: 64 * 1024,
  lowWaterBytes: 16 * 1024,
  totalBytes: 1024 * 1024,
  perConnection: 2,
  perIdentity: 3,
  total: 50,
  resetAfterMs: 200,
};

let dir: string;
let backend: FakeBackend;
let api: MachineApi;
let f: ApiFixture;
const ca = generateCa();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-streams-"));
  backend = new FakeBackend();
  const socketPath = join(dir, "machine.sock");
  api = await startMachineApi(backend, { socketPath, tcpPort: 0, tcpHost: "127.0.0.1", ca, streamLimits: LIMITS });
  f = { dir, socketPath, tcpPort: api.tcpPort!, ca, backend, api, close: async () => {} };
});
afterAll(async () => {
  try {
    await api?.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${JSON.stringify(api.stats())}`);
    await Bun.sleep(10);
  }
};

/** Opens a follow stream that stays quiet (no events happen); resolves with its status when it ends. */
function quietFollow(c: RawClient): { stream: grpc.ClientReadableStream<unknown>; status: Promise<grpc.StatusObject> } {
  const stream = c.stream("Events", { tail_events: 0 });
  stream.on("data", () => {});
  stream.on("error", () => {});
  return { stream, status: new Promise((res) => stream.on("status", res)) };
}

describe("StreamGate", () => {
  test("caps per connection, per identity and in total; a slot is given back once", () => {
    const g = new StreamGate({ ...LIMITS, perConnection: 2, perIdentity: 3, total: 4 }, () => {});
    const a1 = g.admit({ connection: "a", identity: "cert-x" });
    g.admit({ connection: "a", identity: "cert-x" });
    expect(() => g.admit({ connection: "a", identity: "cert-x" })).toThrow(/on this connection \(2 at most\)/);
    g.admit({ connection: "b", identity: "cert-x" });
    expect(() => g.admit({ connection: "c", identity: "cert-x" })).toThrow(/for cert-x \(3 at most\)/);
    g.admit({ connection: "c", identity: "cert-y" });
    expect(() => g.admit({ connection: "d", identity: "cert-z" })).toThrow(/too many streams open on this node \(4\)/);
    a1();
    a1();
    expect(g.openStreams).toBe(3);
    g.admit({ connection: "d", identity: "cert-z" });
  });

  test("the byte budget: take past totalBytes fails; bytes dropped by closed streams trigger one batched collection", async () => {
    let collected = 0;
    const g = new StreamGate({ ...LIMITS, totalBytes: 100, collectAfterDroppedBytes: 50, collectAfterClosedStreams: 1000 }, () => collected++);
    expect(g.take(60)).toBe(true);
    expect(g.take(50)).toBe(false);
    expect(g.take(40)).toBe(true);
    g.closed(60);
    g.closed(40);
    expect(g.bufferedBytes).toBe(0);
    await Bun.sleep(2200);
    expect(collected).toBe(1);
    expect(g.collections).toBe(1);
    g.close();
  });
});

describe("over the wire", () => {
  const quietCall = { path: "/machine.MachineService/Events", requestType: "machine.EventsRequest", request: { tail_events: 0 } };

  test("a third stream on one node-socket connection is RESOURCE_EXHAUSTED; another connection is its own client", async () => {
    const c1 = rawLocal(f);
    const raw = await neverReadingClients(unixDial(f.socketPath), 1, 1, [quietCall]);
    try {
      const a = quietFollow(c1);
      const b = quietFollow(c1);
      await waitFor(() => api.stats().streams === 3);
      const third = await quietFollow(c1).status;
      expect(third.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(third.details).toContain("on this connection");
      // The raw connection's stream was admitted next to them: connections are told apart.
      expect(api.stats().streams).toBe(3);
      a.stream.cancel();
      b.stream.cancel();
    } finally {
      c1.close();
      raw.kill();
    }
    await waitFor(() => api.stats().streams === 0);
  });

  test("one certificate may hold perIdentity streams across connections; another certificate is not counted with it", async () => {
    const creds = (cn: string) => {
      const c = issueClientCert(ca, "os:reader", cn);
      return { ca: ca.cert, cert: c.cert, key: c.key };
    };
    const one = creds("one-reader");
    // Two connections of two streams each: the fourth stream passes the identity's 3.
    const same = await neverReadingClients(tlsDial("127.0.0.1", f.tcpPort, one), 2, 2, [quietCall]);
    const c = rawRemote(f, { cert: one.cert, key: one.key });
    try {
      await waitFor(() => api.stats().streams === 3);
      const refused = await quietFollow(c).status;
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain("CN=one-reader");
      const other = await neverReadingClients(tlsDial("127.0.0.1", f.tcpPort, creds("another-reader")), 1, 1, [quietCall]);
      await waitFor(() => api.stats().streams === 4);
      other.kill();
    } finally {
      c.close();
      same.kill();
    }
    await waitFor(() => api.stats().streams === 0);
  });

  test("streams that never read are ended, their bytes and slots given back", async () => {
    const ring = backend.services.get("containerd")!.ring;
    const attackers = await neverReadingClients(unixDial(f.socketPath), 10, 1, [
      { path: "/machine.MachineService/Logs", requestType: "machine.LogsRequest", request: { id: "containerd", follow: true, tail_lines: 0 } },
    ]);
    try {
      await waitFor(() => api.stats().streams === 10);
      const line = "y".repeat(1000);
      let peak = 0;
      // 10 streams x 4 MiB offered, far past both the per-stream share and the total.
      for (let i = 0; i < 4096 && api.stats().streams > 0; i++) {
        ring.push(line);
        peak = Math.max(peak, api.stats().bufferedBytes);
        if (i % 64 === 0) await Bun.sleep(1);
      }
      expect(peak).toBeLessThanOrEqual(LIMITS.totalBytes);
      await waitFor(() => api.stats().streams === 0, 5000);
      expect(api.stats().bufferedBytes).toBe(0);
    } finally {
      attackers.kill();
    }
  });

  test("a client that reads gets a history far longer than its stream's share, without being cut", async () => {
    const id = "containerd";
    const ring = backend.services.get(id)!.ring;
    for (let i = 0; i < 100; i++) ring.push(`${i} ${"z".repeat(2000)}`); // ~200 KiB > perStreamBytes
    const c = rawLocal(f);
    try {
      const got = await c.collect("Logs", { id, tail_lines: -1 });
      expect(got.length).toBe(ring.tail().length);
    } finally {
      c.close();
    }
  });
});
