// minosctl as talosctl against real booted nodes: three sandboxes booted from
// what `dist/minos ctl gen config` writes (two control planes and a worker,
// each with a one-line hostname patch), driven with the talosconfig it wrote
// (mutual TLS, os:admin). `-e A -n A,B` goes to node A, which forwards to B
// with its own os:impersonator certificate; each reply names its node.
//
// Each sandbox has its own network namespace with only loopback, so B is
// made reachable from A's namespace at 127.0.0.1:50001 by a two-process
// bridge through a unix socket (one process in each namespace): B's serving
// certificate names 127.0.0.1, so A verifies B as it would on a real network.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootSandbox, type Sandbox } from "../../scripts/sandbox.ts";

let work: string;
const nodes: Sandbox[] = [];
const bridges: ChildProcess[] = [];

const BRIDGE = (mode: "listen-tcp" | "listen-unix", sock: string, port: number) => `
const net = require("node:net");
const [connect, listen] = ${JSON.stringify(mode)} === "listen-tcp"
  ? [() => net.connect(${JSON.stringify(sock)}), (s) => s.listen(${port}, "127.0.0.1")]
  : [() => net.connect(50000, "127.0.0.1"), (s) => s.listen(${JSON.stringify(sock)})];
const server = net.createServer((c) => { const u = connect(); c.pipe(u); u.pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()); });
listen(server);
server.on("listening", () => console.log("ready"));
`;

async function inNet(pid: number, cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(["nsenter", `--net=/proc/${pid}/ns/net`, ...cmd], { stdout: "pipe", stderr: "pipe", env: { HOME: work, PATH: process.env.PATH ?? "" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

function startBridge(pid: number, mode: "listen-tcp" | "listen-unix", sock: string, port: number): Promise<void> {
  const p = spawn("nsenter", [`--net=/proc/${pid}/ns/net`, process.execPath, "-e", BRIDGE(mode, sock, port)], { stdio: ["ignore", "pipe", "inherit"] });
  bridges.push(p);
  return new Promise((res, rej) => {
    p.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && res());
    p.on("exit", (c) => rej(new Error(`bridge exited ${c}`)));
  });
}

beforeAll(async () => {
  if (!existsSync("dist/minos") || !existsSync("dist/rootfs")) throw new Error("run `bun run build` first (dist/minos, dist/rootfs)");
  work = mkdtempSync(join(tmpdir(), "minosctl-nodes-sb-"));
  const gen = await Bun.$`dist/minos ctl gen config sbx https://10.5.0.2:6443 --output-dir ${work}`.nothrow().quiet();
  if (gen.exitCode !== 0) throw new Error(`gen config failed: ${gen.stderr}`);
  const cp = readFileSync(join(work, "controlplane.yaml"), "utf8");
  const worker = readFileSync(join(work, "worker.yaml"), "utf8");
  // The minimal patch, applied as a user would: minosctl's own strategic merge (via gen config --config-patch is tested in unit tests).
  const { applyPatches, loadPatch } = await import("../../src/config/patch.ts");
  const named = (yaml: string, host: string) => applyPatches(yaml, [loadPatch(`machine:\n  network:\n    hostname: ${host}\n`)]);
  const echo = process.env.MINOS_TEST_ECHO ? true : undefined;
  nodes.push(
    ...(await Promise.all([
      bootSandbox({ config: named(cp, "node-a"), echo }),
      bootSandbox({ config: named(cp, "node-b"), echo }),
      bootSandbox({ config: named(worker, "node-w"), echo }),
    ])),
  );
  await Promise.all(nodes.map((n) => n.waitForLine(/all services healthy/, 60_000)));
  const [a, b] = await Promise.all([nodes[0]!.initPid(), nodes[1]!.initPid()]);
  const sock = join(work, "bridge.sock");
  await startBridge(b, "listen-unix", sock, 0);
  await startBridge(a, "listen-tcp", sock, 50001);
}, 120_000);

afterAll(async () => {
  for (const p of bridges) p.kill("SIGKILL");
  await Promise.all(nodes.map((n) => n.cleanup()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("nodes booted from gen config, driven with its talosconfig", () => {
  test("the worker config (no CA key) boots; its API is on the socket only", async () => {
    const r = await Bun.$`dist/minos ctl -e unix:${nodes[2]!.socketPath} hostname`.nothrow().quiet();
    expect(r.stdout.toString()).toBe("node-w\n");
    expect(nodes[2]!.lines.some((l) => /no machine\.ca: no TCP listener/.test(l))).toBe(true);
  });

  test("-e A -n A,B version lists both nodes; hostname names each", async () => {
    const a = await nodes[0]!.initPid();
    const cfg = join(work, "talosconfig");
    const v = await inNet(a, ["dist/minos", "ctl", "--talosconfig", cfg, "-e", "127.0.0.1:50000", "-n", "127.0.0.1:50000,127.0.0.1:50001", "version"]);
    expect(v.err).toBe("");
    expect(v.code).toBe(0);
    expect([...v.out.matchAll(/NODE:\s+(\S+)/g)].map((m) => m[1])).toEqual(["127.0.0.1:50000", "127.0.0.1:50001"]);
    const h = await inNet(a, ["dist/minos", "ctl", "--talosconfig", cfg, "-e", "127.0.0.1:50000", "-n", "127.0.0.1:50000,127.0.0.1:50001", "hostname"]);
    expect(h.out).toMatch(/127\.0\.0\.1:50000\s+node-a/);
    expect(h.out).toMatch(/127\.0\.0\.1:50001\s+node-b/);
  });

  test("version --client needs no node; a missing --talosconfig is an error", async () => {
    const c = await Bun.$`dist/minos ctl --talosconfig /nonexistent version --client`.nothrow().quiet();
    expect(c.exitCode).toBe(0);
    expect(c.stdout.toString()).toMatch(/^Client:\n\tTag:/);
    const bad = await Bun.$`dist/minos ctl --talosconfig /nonexistent hostname`.nothrow().quiet();
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain("/nonexistent: cannot read the client config");
  });
});
