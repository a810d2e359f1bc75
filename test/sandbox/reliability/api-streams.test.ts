// Issue 18 item 1: streams nobody reads must not take PID 1's memory. A chatty
// service feeds Logs follow streams (and Events/Dmesg follow streams ride
// along) whose clients open them and never read a byte: 500 over the node
// socket, 60 over mutual TLS with an os:reader certificate. PID 1 must stay
// alive with its RSS within BOUND_MIB of its baseline, and come back near the
// baseline once the clients are killed.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Sandbox } from "../../../scripts/sandbox.ts";
import { generateCa, issueClientCert } from "../../../src/api/pki/certs.ts";
import { bootSandbox } from "../../../scripts/sandbox.ts";
import { busyboxFile, sh } from "../../helpers/busybox.ts";
import { alive, rssMiB, type Call } from "./api-attack.ts";

/** PID 1 may grow by at most this much while the attack runs... */
const BOUND_MIB = 100;
/** ...and keep at most this much of it once the clients are gone. */
const AFTER_MIB = 40;

const ca = generateCa();
const b64 = (s: string) => Buffer.from(s).toString("base64");
// ~10,000 lines of ~200 bytes a second: plenty for a stream that never drains.
const LINE = "x".repeat(190);
const CONFIG = stringify({
  version: "v1alpha1",
  machine: { network: { hostname: "streams-node" }, ca: { crt: b64(ca.cert), key: b64(ca.key) } },
  minos: {
    services: [
      {
        id: "chatty",
        console: false,
        command: sh(`i=0; while :; do j=0; while [ $j -lt 20 ]; do echo "$i ${LINE}"; j=$((j+1)); done; i=$((i+1)); usleep 2000; done`),
      },
    ],
  },
});

const CALLS: Call[] = [
  { path: "/machine.MachineService/Logs", requestType: "machine.LogsRequest", request: { id: "chatty", follow: true, tail_lines: -1 } },
  { path: "/machine.MachineService/Logs", requestType: "machine.LogsRequest", request: { id: "chatty", follow: true, tail_lines: -1 } },
  { path: "/machine.MachineService/Events", requestType: "machine.EventsRequest", request: { tail_events: -1 } },
  { path: "/machine.MachineService/Dmesg", requestType: "machine.DmesgRequest", request: { follow: true } },
];

let sb: Sandbox;
let work: string;
let initPid: number;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "minos-rel-streams-"));
  writeFileSync(join(work, "calls.json"), JSON.stringify(CALLS));
  const reader = issueClientCert(ca, "os:reader", "attacker");
  writeFileSync(join(work, "reader.json"), JSON.stringify({ ca: ca.cert, cert: reader.cert, key: reader.key }));
});

// Each attack gets a fresh node, so one's leftovers are not the next one's baseline.
beforeEach(async () => {
  sb = await bootSandbox({ config: CONFIG, files: [busyboxFile()], echo: process.env.MINOS_TEST_ECHO ? true : undefined });
  await sb.waitForLine(/all services healthy/, 30_000);
  initPid = await sb.initPid();
}, 60_000);

afterEach(async () => {
  await sb?.cleanup();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Settles RSS (a few samples 200 ms apart, the lowest). */
async function settledRss(): Promise<number> {
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, rssMiB(initPid));
    await Bun.sleep(200);
  }
  return low;
}

async function attack(name: string, argv: string[], holdMs: number): Promise<{ baseline: number; peak: number; after: number; failed: number }> {
  const baseline = await settledRss();
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "inherit" });
  let peak = baseline;
  const sampler = setInterval(() => {
    if (alive(initPid)) peak = Math.max(peak, rssMiB(initPid));
  }, 100);
  let failed = -1;
  try {
    const reader = child.stdout.getReader();
    let out = "";
    const until = Date.now() + 60_000;
    while (!out.includes("\n") && Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      out += Buffer.from(value).toString();
    }
    const m = /ready (\d+)/.exec(out);
    if (!m) throw new Error(`attacker did not get ready: ${out}`);
    failed = Number(m[1]);
    await Bun.sleep(holdMs);
    expect(alive(initPid)).toBe(true);
  } finally {
    child.kill("SIGKILL");
    await child.exited;
    clearInterval(sampler);
  }
  await Bun.sleep(3000);
  const after = alive(initPid) ? await settledRss() : NaN;
  console.log(`${name}: baseline ${baseline.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB, after ${after.toFixed(1)} MiB, failed connections ${failed}`);
  return { baseline, peak, after, failed };
}

const bun = process.execPath;
const cli = join(import.meta.dir, "api-attack-cli.ts");

describe("never-read streams", () => {
  test("500 over the node socket: PID 1 alive, RSS bounded, back near baseline", async () => {
    const r = await attack("unix 500", [bun, cli, `unix:${sb.socketPath}`, "500", "1", join(work, "calls.json")], 8000);
    expect(alive(initPid)).toBe(true);
    expect(r.peak - r.baseline).toBeLessThan(BOUND_MIB);
    expect(r.after - r.baseline).toBeLessThan(AFTER_MIB);
    // The API still answers.
    const v = await Bun.$`dist/minos ctl -n unix:${sb.socketPath} version`.nothrow().quiet();
    expect(v.exitCode).toBe(0);
  }, 120_000);

  test("60 over mutual TLS with an os:reader certificate: PID 1 alive, RSS bounded, back near baseline", async () => {
    const r = await attack(
      "tls 60 reader",
      ["nsenter", `--net=/proc/${initPid}/ns/net`, bun, cli, `tls:127.0.0.1:50000:${join(work, "reader.json")}`, "60", "1", join(work, "calls.json")],
      8000,
    );
    expect(alive(initPid)).toBe(true);
    expect(r.peak - r.baseline).toBeLessThan(BOUND_MIB);
    expect(r.after - r.baseline).toBeLessThan(AFTER_MIB);
  }, 120_000);
});
