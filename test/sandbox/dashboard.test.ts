// End to end: the dashboard in a real terminal (tmux). First against the real
// machine API server on a unix socket (fake backend, host /proc), then against
// a live sandboxed node. Each finds the hostname and containerd Running on
// Summary, a process list on Monitor, then stops the node and finds the
// disconnected banner. Needs tmux; the sandbox test also root, dist/minos
// (bun run build) and scripts/sandbox.ts.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startMachineApi } from "../../src/api/server.ts";
import { dashboardBackend } from "../helpers/fake-backend.ts";
import type { Sandbox } from "../../scripts/sandbox.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BIN = resolve(ROOT, "dist/minos");
const SANDBOX = resolve(ROOT, "scripts/sandbox.ts");
// A private tmux server: never touches a developer's own sessions.
const TMUX = ["tmux", "-L", `minos-dash-${process.pid}`, "-f", "/dev/null"];

function tmux(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([...TMUX, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

const pane = () => tmux("capture-pane", "-p", "-t", "dash").out;

async function waitFor(what: string, cond: (screen: string) => boolean, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  let screen = "";
  while (Date.now() < end) {
    screen = pane();
    if (cond(screen)) return screen;
    await Bun.sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; screen was:\n${screen}`);
}

let node: Sandbox | undefined;

/** The built binary when there is one, else the sources through bun (same main()). */
function dashboardCommand(endpoint: string, term: string): string {
  const exe = existsSync(BIN) ? BIN : `${process.execPath} ${resolve(ROOT, "src/main.ts")}`;
  return `TERM=${term} ${exe} dashboard -n ${endpoint} --interval 1000`;
}

async function summaryMonitorDisconnect(hostname: string | undefined, stopNode: () => Promise<unknown>): Promise<void> {
  const summary = await waitFor("Summary with containerd Running", (s) => /^ containerd\s+Running\b/m.test(s));
  const host = /Host (\S+)/.exec(summary)?.[1];
  expect(host).toBeDefined();
  if (hostname) expect(host).toBe(hostname);
  expect(summary).toContain("connected: unix:");

  tmux("send-keys", "-t", "dash", "2");
  const monitor = await waitFor("Monitor with a process list", (s) => s.includes("Processes (") && /^\s+\d+ [A-Z]\s+\d+\s+/m.test(s));
  expect(monitor).toMatch(/PID S\s+THR/);

  await stopNode();
  const lost = await waitFor("the disconnected banner", (s) => s.includes("DISCONNECTED"));
  expect(lost).not.toMatch(/^\s+at /m); // a banner, not a stack trace

  tmux("send-keys", "-t", "dash", "q");
  const end = Date.now() + 5000;
  while (tmux("has-session", "-t", "dash").code === 0 && Date.now() < end) await Bun.sleep(100);
  expect(tmux("has-session", "-t", "dash").code).not.toBe(0); // q ended the dashboard
}

test.each(["linux", "xterm-256color"])(
  "TERM=%s: dashboard in tmux against the machine API server: summary, monitor, disconnect",
  async (term) => {
    expect(Bun.which("tmux")).not.toBeNull();
    const dir = mkdtempSync(join(tmpdir(), "minos-dash-e2e-"));
    const socket = join(dir, "machine.sock");
    let api: Awaited<ReturnType<typeof startMachineApi>> | undefined = await startMachineApi(dashboardBackend("e2e-node"), { socketPath: socket });
    try {
      expect(tmux("new-session", "-d", "-s", "dash", "-x", "80", "-y", "25", dashboardCommand(`unix:${socket}`, term)).code).toBe(0);
      await summaryMonitorDisconnect("e2e-node", async () => {
        await api?.close();
        api = undefined;
      });
    } finally {
      tmux("kill-server");
      await api?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);

afterAll(async () => {
  tmux("kill-server");
  await node?.cleanup().catch(() => {});
});

test("dashboard in tmux against a sandboxed node: summary, monitor, disconnect", async () => {
  expect(existsSync(BIN)).toBe(true); // bun run build first
  expect(Bun.which("tmux")).not.toBeNull();
  const { bootSandbox } = (await import(SANDBOX)) as typeof import("../../scripts/sandbox.ts");
  node = await bootSandbox();
  const booted = node;
  expect(tmux("new-session", "-d", "-s", "dash", "-x", "80", "-y", "25", dashboardCommand(`unix:${node.socketPath}`, "xterm-256color")).code).toBe(0);
  await summaryMonitorDisconnect(undefined, async () => {
    await booted.stop();
    await booted.cleanup();
    node = undefined;
  });
}, 120_000);
