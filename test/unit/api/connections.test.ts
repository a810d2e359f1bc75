// The connection bounds of the machine API server (src/api/connections.ts),
// in-process with small limits: connections that send nothing, or only the
// HTTP/2 preface, are closed after firstRequestMs; one that opened a stream
// is not; past `max` a new connection is closed at once; the listening
// socket's backlog is raised past Bun's fixed 512.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONNECTION_LIMITS } from "../../../src/api/connections.ts";
import { type MachineApi, startMachineApi } from "../../../src/api/server.ts";
import { generateCa } from "../../../src/api/pki/certs.ts";
import { FakeBackend } from "../../helpers/fake-backend.ts";
import { neverReadingClients, unixDial } from "../../sandbox/reliability/api-attack.ts";

const FIRST_REQUEST_MS = 300;
const MAX = 8;
let dir: string;
let socketPath: string;
let api: MachineApi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-conns-"));
  socketPath = join(dir, "machine.sock");
  api = await startMachineApi(new FakeBackend(), {
    socketPath,
    tcpPort: 0,
    tcpHost: "127.0.0.1",
    ca: generateCa(),
    connectionLimits: { ...CONNECTION_LIMITS, max: MAX, firstRequestMs: FIRST_REQUEST_MS },
  });
});
afterAll(async () => {
  try {
    await api?.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A connection that writes `first` (or nothing); resolves with when the server closed it (Infinity if it did not within ms). */
function closedWithin(ms: number, first?: Buffer, port?: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = port ? net.connect(port, "127.0.0.1", () => first && s.write(first)) : net.connect(socketPath, () => first && s.write(first));
    s.on("data", () => {});
    s.on("error", () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve(Infinity);
    }, ms);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

test("both listeners' backlogs were raised", () => {
  expect(api.stats().raisedBacklogs).toBe(2);
});

test("a silent connection, a preface-only one, and a TLS one that never says hello are closed after firstRequestMs, not before", async () => {
  const [silent, preface, tcp] = await Promise.all([
    closedWithin(3000),
    closedWithin(3000, Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")),
    closedWithin(3000, undefined, api.tcpPort),
  ]);
  for (const ms of [silent, preface, tcp]) {
    expect(ms).toBeGreaterThanOrEqual(FIRST_REQUEST_MS - 20);
    expect(ms).toBeLessThan(FIRST_REQUEST_MS + 1500);
  }
  expect(api.stats().idleConnectionsClosed).toBeGreaterThanOrEqual(3);
});

test("a connection that opened a stream stays past firstRequestMs", async () => {
  const c = await neverReadingClients(unixDial(socketPath), 1, 1, [
    { path: "/machine.MachineService/Events", requestType: "machine.EventsRequest", request: { tail_events: 0 } },
  ]);
  try {
    await Bun.sleep(FIRST_REQUEST_MS * 3);
    expect(c.sockets[0]!.destroyed).toBe(false);
    expect(c.sockets[0]!.readyState).toBe("open");
  } finally {
    c.kill();
  }
});

test(`past ${MAX} open connections a new one is closed at once`, async () => {
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < MAX; i++) {
      const s = net.connect(socketPath);
      s.on("error", () => {});
      held.push(s);
      await new Promise((r) => s.once("connect", r));
    }
    await Bun.sleep(50);
    const before = api.stats().refusedConnections;
    const extra = await closedWithin(FIRST_REQUEST_MS - 100);
    expect(extra).toBeLessThan(FIRST_REQUEST_MS - 100);
    expect(api.stats().refusedConnections).toBe(before + 1);
  } finally {
    for (const s of held) s.destroy();
  }
});
