// The machine API end to end: a real init booted in the sandbox (private copy
// of dist/rootfs), driven by the compiled `dist/minos ctl` and by a raw grpc-js
// client — over the node socket, and over mutual TLS on TCP 50000 inside the
// node's network namespace (entered with nsenter).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, type Sandbox } from "../../scripts/sandbox.ts";
import { generateCa } from "../../src/api/pki/certs.ts";
import { rawLocal, type ApiFixture, type RawClient } from "../helpers/fake-backend.ts";

const ca = generateCa();
const b64 = (s: string) => Buffer.from(s).toString("base64");
const CONFIG = stringify({ version: "v1alpha1", machine: { network: { hostname: "sandbox-node" }, ca: { crt: b64(ca.cert), key: b64(ca.key) } } });

let sb: Sandbox;
let work: string;
let raw: RawClient;

async function ctl(...args: string[]) {
  const r = await Bun.$`dist/minos ctl -n unix:${sb.socketPath} ${args}`
    .env({ HOME: work, PATH: process.env.PATH ?? "" })
    .nothrow()
    .quiet();
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** minosctl run inside the node's network namespace (TCP 50000 is only there). */
async function ctlInNet(config: string, ...args: string[]) {
  const pid = await sb.initPid();
  const r = await Bun.$`nsenter --net=/proc/${pid}/ns/net dist/minos ctl --minosconfig ${config} ${args}`
    .env({ HOME: work, PATH: process.env.PATH ?? "" })
    .nothrow()
    .quiet();
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "minos-api-sb-"));
  sb = await bootSandbox({ config: CONFIG, echo: process.env.MINOS_TEST_ECHO ? true : undefined });
  await sb.waitForLine(/all services healthy/, 30_000);
  raw = rawLocal({ socketPath: sb.socketPath } as ApiFixture);
}, 60_000);

afterAll(async () => {
  raw?.close();
  await sb?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("machine API on a booted node", () => {
  test("version, hostname and services through minosctl and raw grpc-js", async () => {
    const v = await ctl("version");
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/NODE:\s+sandbox-node/);
    // The node's binary carries the commit and build time it was built from (build/compile.ts).
    const sha = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"]).stdout.toString().trim();
    expect(v.out).toMatch(new RegExp(`SHA:\\s+${sha}(-dirty)?\\n`));
    expect(v.out).toMatch(/Built:\s+\d{4}-\d\d-\d\dT/);
    const s = await ctl("services");
    expect(s.out).toMatch(/sandbox-node\s+containerd\s+Running\s+OK/);
    const list = await new Promise<any>((res, rej) => (raw.client as any).ServiceList({}, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    expect(list.messages[0].metadata.hostname).toBe("sandbox-node");
    expect(list.messages[0].services.find((x: any) => x.id === "containerd").state).toBe("Running");
  });

  test("list /sbin: the five minos names share one inode", async () => {
    const r = await ctl("-o", "json", "list", "/sbin");
    expect(r.code).toBe(0);
    const entries = JSON.parse(r.out) as Array<{ relative_name: string; inode: number }>;
    const minos = entries.filter((e) => ["init", "dashboard", "poweroff", "shutdown", "wrapperd"].includes(e.relative_name));
    expect(minos.length).toBe(5);
    expect(new Set(minos.map((e) => e.inode)).size).toBe(1);
  });

  test("logs containerd, and read/mounts/memory/processes", async () => {
    const logs = await ctl("logs", "containerd", "--tail", "5");
    expect(logs.code).toBe(0);
    expect(logs.out.trim().split("\n").length).toBeGreaterThan(0);
    expect((await ctl("read", "/etc/os-release")).code).toBe(0);
    expect((await ctl("mounts")).out).toMatch(/\/sys\/fs\/cgroup/);
    expect((await ctl("memory")).code).toBe(0);
    expect((await ctl("processes")).out).toMatch(/containerd/);
    expect((await ctl("service", "nope", "restart")).err).toContain("not found");
    const ev = await ctl("events", "--tail", "-1", "--count", "1");
    expect(ev.code).toBe(0);
    expect(ev.out.split("\n").length).toBeGreaterThan(2);
  });

  test("apply-config: unknown keys are INVALID_ARGUMENT and the stored config stays; no-reboot changes the hostname", async () => {
    const before = (await ctl("get-config")).out;
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, "version: v1alpha1\nmachine:\n  colour: blue\n");
    const r = await ctl("apply-config", "-f", bad, "--mode", "no-reboot");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^minosctl: invalid argument: [\s\S]*colour/);
    expect((await ctl("get-config")).out).toBe(before);
    const good = join(work, "good.yaml");
    writeFileSync(good, CONFIG.replace("sandbox-node", "renamed-node"));
    const ok = await ctl("apply-config", "-f", good, "--mode", "no-reboot");
    expect(ok.code).toBe(0);
    expect((await ctl("hostname")).out).toBe("renamed-node\n");
  });

  test("TCP 50000 with mutual TLS: reader denied shutdown, no certificate refused", async () => {
    const dir = join(work, "pki");
    const gen =
      await Bun.$`dist/minos ctl gen client --role os:reader --ca-crt ${writeTo(join(work, "ca.crt"), ca.cert)} --ca-key ${writeTo(join(work, "ca.key"), ca.key)} --out ${dir} --endpoint 127.0.0.1:50000`
        .nothrow()
        .quiet();
    expect(gen.exitCode).toBe(0);
    const host = await ctlInNet(join(dir, "config"), "hostname");
    expect(host.err).toBe("");
    expect(host.code).toBe(0);
    const denied = await ctlInNet(join(dir, "config"), "shutdown");
    expect(denied.code).toBe(1);
    expect(denied.err).toContain("permission denied");
    writeFileSync(join(work, "empty.config"), "");
    const none = await ctlInNet(join(work, "empty.config"), "-n", "127.0.0.1:50000", "version");
    expect(none.code).toBe(1);
  });

  test("Logs follow (raw grpc-js) delivers init's log line written after the stream opened", async () => {
    const stream = (raw.client as any).Logs({ id: "machined", follow: true, tail_lines: 0 });
    const got: string[] = [];
    stream.on("data", (d: { bytes: Uint8Array }) => got.push(Buffer.from(d.bytes).toString()));
    stream.on("error", () => {});
    await Bun.sleep(200); // the stream is open and following
    expect((await ctl("service", "containerd", "restart")).code).toBe(0);
    const until = Date.now() + 10_000;
    while (!got.some((l) => l.includes("containerd")) && Date.now() < until) await Bun.sleep(20);
    stream.cancel();
    expect(got.some((l) => l.includes("containerd"))).toBe(true);
  }, 20_000);

  test("shutdown through minosctl powers the node off", async () => {
    const r = await ctl("shutdown");
    expect(r.code).toBe(0);
    const exit = await sb.exited;
    expect(exit.initSignal).toBe("SIGINT");
  }, 40_000);
});

function writeTo(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}
