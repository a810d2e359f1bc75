// The dashboard's data layer against the real machine API server and client
// (over a unix socket, backed by a fixed fake backend): every section arrives
// and maps to the dashboard's rows, on screen.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMachineApi, type MachineApi } from "../../../../src/api/server.ts";
import { connect } from "../../../../src/api/client.ts";
import { generateCa, issueClientCert } from "../../../../src/api/pki/certs.ts";
import { readerSource } from "../../../../src/applets/dashboard/client-source.ts";
import { sourceFactory } from "../../../../src/applets/dashboard/connect.ts";
import { applySample, initialState } from "../../../../src/applets/dashboard/state.ts";
import { render } from "../../../../src/applets/dashboard/render.ts";
import { dashboardBackend } from "../../../helpers/fake-backend.ts";

let dir: string;
let api: MachineApi;
let socket: string;

/** The node's events happened long before the dashboard connects, a minute apart. */
const HISTORY_START = Date.UTC(2026, 0, 2, 3, 4, 5);
const eventTimes = [0, 1, 2].map((i) => HISTORY_START + i * 60_000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "minos-dash-"));
  socket = join(dir, "machine.sock");
  const backend = dashboardBackend();
  const history = backend.eventHistory().map((e, i) => ({ ...e, ts: new Date(eventTimes[i]!) }));
  backend.eventHistory = () => history;
  api = await startMachineApi(backend, { socketPath: socket });
});

afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a sample carries identity, services, system figures, log, config, events and the scheduled shutdown", async () => {
  const src = readerSource(connect({ endpoint: `unix:${socket}` }));
  try {
    await Bun.sleep(100); // let the events stream replay its history
    const s = await src.sample({ logLines: 5, config: true });
    expect(s.errors).toEqual({});
    expect(s.hostname).toBe("dash-node");
    expect(s.version).toBe("v0.1.0 (0123456)");
    expect(s.services?.find((x) => x.id === "containerd")).toEqual({ id: "containerd", state: "Running", healthy: true, message: "Health check successful" });
    expect(s.services?.find((x) => x.id === "kubelet")?.healthy).toBe(false);
    expect(s.log).toEqual([
      "[minos] boot step 26 done",
      "[minos] boot step 27 done",
      "[minos] boot step 28 done",
      "[minos] boot step 29 done",
      "[minos] boot step 30 done",
    ]);
    // System figures come from the host's /proc through the server.
    expect(s.memory!.totalBytes).toBeGreaterThan(64 * 2 ** 20);
    expect(s.cpu!.total).toBeGreaterThan(0);
    expect(s.bootTime!).toBeLessThan(Date.now());
    expect(s.processes!.some((p) => p.pid === process.pid)).toBe(true);
    expect(s.net!.some((n) => n.name === "lo")).toBe(true);
    expect(s.config).toContain("hostname: dash-node");
    expect(s.scheduledShutdown).toMatchObject({ action: "poweroff", message: "maintenance" });
    expect(s.events!.map((e) => e.text)).toEqual([
      "sequence boot: start",
      "sequence boot: stop",
      expect.stringMatching(/^shutdown scheduled: poweroff at .* - maintenance$/),
    ]);
    // Replayed history keeps the node's own times, not the moment it arrived.
    expect(s.events!.map((e) => e.ts)).toEqual(eventTimes);
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    expect(s.kernel).toBe(release);

    // And it renders: two samples give rates.
    let st = applySample(initialState({ endpoint: `unix:${socket}` }), s, Date.now());
    await Bun.sleep(50);
    st = applySample(st, await src.sample({ logLines: 5, config: false }), Date.now());
    const text = render(st, { cols: 80, rows: 25, colors: false }).join("\n");
    expect(text).toContain("Host dash-node");
    expect(text).toContain(`Kernel ${release}`);
    expect(text).toMatch(/ containerd\s+Running\s+OK/);
    const config = render({ ...st, screen: "config" }, { cols: 80, rows: 25, colors: false }).join("\n");
    expect(config).toContain("03:06:05 shutdown scheduled: poweroff");
    expect(config).toContain("03:05:05 sequence boot: stop");
    expect(config).toContain("03:04:05 sequence boot: start");
  } finally {
    src.close();
  }
});

test("a reader certificate is enough: every section arrives, the config with its CA key redacted", async () => {
  const ca = generateCa();
  const key = Buffer.from(ca.key).toString("base64");
  const base = dashboardBackend("reader-node");
  const config = `version: v1alpha1\nmachine:\n  network:\n    hostname: reader-node\n  ca:\n    crt: ${Buffer.from(ca.cert).toString("base64")}\n    key: ${key}\n`;
  base.config = config;
  const remote = await startMachineApi(base, { socketPath: join(dir, "reader.sock"), tcpPort: 0, tcpHost: "127.0.0.1", ca });
  const reader = issueClientCert(ca, "os:reader", "dashboard");
  const src = readerSource(connect({ endpoint: `127.0.0.1:${remote.tcpPort}`, tls: { ca: ca.cert, cert: reader.cert, key: reader.key } }));
  try {
    await Bun.sleep(100);
    const s = await src.sample({ logLines: 5, config: true });
    expect(s.errors).toEqual({});
    expect(s.hostname).toBe("reader-node");
    expect(s.config).toContain("hostname: reader-node");
    expect(s.config).toContain("key: REDACTED");
    expect(s.config).not.toContain(key);
    expect(s.events!.length).toBe(3);
  } finally {
    src.close();
    await remote.close();
  }
});

test("an endpoint with nothing behind it rejects the sample (the loop then shows the banner)", async () => {
  const src = await sourceFactory({ endpoint: `unix:${join(dir, "absent.sock")}` })();
  try {
    await expect(src.sample({ logLines: 5, config: false })).rejects.toBeDefined();
  } finally {
    src.close();
  }
});
