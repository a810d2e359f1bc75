// issue 18 item 5 (part): GetConfiguration for an os:reader (secrets
// redacted) of a big but valid config (three maps of 9,999 keys) never
// freezes PID 1: the config is validated and redacted in the config worker
// when it is applied, so Version calls on another connection are answered
// within 100 ms during the apply, during the first reader call and after, and
// every reader gets the config with the CA key hidden. Needs root and `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, type Sandbox } from "../../../scripts/sandbox.ts";
import { connect } from "../../../src/api/client.ts";
import { generateCa, issueClientCert } from "../../../src/api/pki/certs.ts";

const READER_SCRIPT = resolve(import.meta.dir, "../../helpers/config-reader.ts");
const ca = generateCa("redaction-test");
const caYaml = { crt: Buffer.from(ca.cert).toString("base64"), key: Buffer.from(ca.key).toString("base64") };
const SMALL = stringify({ version: "v1alpha1", machine: { network: { hostname: "small-node" }, ca: caYaml } });
const BIG = stringify({
  version: "v1alpha1",
  machine: {
    network: { hostname: "big-node" },
    ca: caYaml,
    // Three maps of 9,999 keys: as big as the limits allow per map (10,000 entries).
    kubelet: { extraArgs: Object.fromEntries(Array.from({ length: 9_999 }, (_, i) => [`flag-${i}`, String(i)])) },
    sysctls: Object.fromEntries(Array.from({ length: 9_999 }, (_, i) => [`net.test.k${i}`, String(i)])),
    env: Object.fromEntries(Array.from({ length: 9_999 }, (_, i) => [`E${i}`, String(i)])),
  },
});

let sb: Sandbox | undefined;
const work = mkdtempSync(join(tmpdir(), "minos-redaction-"));
afterAll(async () => {
  await sb?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Worst Version answer time (ms) over the unix socket while `during` runs. */
async function worstVersionWait(socketPath: string, during: () => Promise<void>): Promise<number> {
  const pinger = connect({ endpoint: `unix:${socketPath}`, timeoutMs: 300_000 });
  let worst = 0;
  let on = true;
  await pinger.version(); // connected before the measured part starts
  const pings = (async () => {
    while (on) {
      const t0 = performance.now();
      await pinger.version();
      worst = Math.max(worst, performance.now() - t0);
      await Bun.sleep(10);
    }
  })();
  try {
    await during();
  } finally {
    on = false;
    await pings;
    pinger.close();
  }
  return worst;
}

describe("GetConfiguration for a reader of a 30,000-key config", () => {
  test("is redacted, and neither the apply nor any reader call freezes PID 1 (Version within 100 ms)", async () => {
    sb = await bootSandbox({ config: SMALL });
    await sb.waitForLine(/all services healthy/, 60_000);
    const node = sb;
    const initPid = await node.initPid();
    // The boot validated the stored config in the worker too: let that one end first.
    await workerGone(initPid, 20_000);
    const rssBefore = rssMiB(initPid);
    const readerCert = issueClientCert(ca, "os:reader");
    // One reader client, started once inside the node's network namespace (TCP 50000, mutual TLS as os:reader):
    // each line on its stdin is one GetConfiguration, answered with the text's length and what it shows.
    const reader = Bun.spawn(
      [
        "nsenter",
        `--net=/proc/${initPid}/ns/net`,
        process.execPath,
        READER_SCRIPT,
        file("ca.crt", ca.cert),
        file("reader.crt", readerCert.cert),
        file("reader.key", readerCert.key),
        file("secret", caYaml.key),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    const replies = lines(reader.stdout);
    expect(await replies.next()).toBe("ready");
    const readerGet = async () => {
      reader.stdin.write("get\n");
      await reader.stdin.flush();
      return replies.next();
    };
    // Up to three rounds, each a new big config (so its first reader call is a first one too). This host
    // is shared: a node whose loop never blocks still waits for a CPU now and then (measured inside
    // PID 1: 100-500 ms runqueue waits with no JS running), so the bound must hold in one round; a parse
    // on the loop (0.5-4 s here) cannot meet it in any.
    const rounds: { apply: number; first: number }[] = [];
    const firsts: string[] = [];
    let resident = 0;
    let rssResident = 0;
    for (let round = 0; round < 3; round++) {
      // Connected only now: the node closes a connection that sends no request for a few seconds.
      const admin = connect({ endpoint: `unix:${node.socketPath}`, timeoutMs: 300_000 });
      const apply = await worstVersionWait(node.socketPath, async () => {
        await admin.applyConfiguration({ data: BIG.replace("big-node", `big-node-${round}`), mode: "no_reboot" });
      });
      admin.close();
      resident = workerThreads(initPid);
      rssResident = rssMiB(initPid);
      const first = await worstVersionWait(node.socketPath, async () => {
        firsts.push(await readerGet());
      });
      rounds.push({ apply, first });
      if (apply < 100 && first < 100) break;
    }
    const applyWait = Math.min(...rounds.map((r) => r.apply));
    const firstWait = Math.min(...rounds.map((r) => r.first));
    const outs: string[] = [];
    // Same host noise as above: the bound must hold in one of up to three batches.
    const laterWaits: number[] = [];
    for (let batch = 0; batch < 3 && !laterWaits.some((w) => w < 100); batch++) {
      laterWaits.push(
        await worstVersionWait(node.socketPath, async () => {
          for (let i = 0; i < 5; i++) outs.push(await readerGet());
        }),
      );
    }
    const laterWait = Math.min(...laterWaits);
    const idleWait = await worstVersionWait(node.socketPath, () => Bun.sleep(3000));
    const adminGets = connect({ endpoint: `unix:${node.socketPath}`, timeoutMs: 60_000 });
    const adminWait = await worstVersionWait(node.socketPath, async () => {
      for (let i = 0; i < 5; i++) await adminGets.getConfiguration();
    });
    adminGets.close();
    console.log(`[figure] Version worst wait: idle 3 s ${idleWait.toFixed(0)} ms, during 5 admin GetConfiguration (no redaction) ${adminWait.toFixed(0)} ms`);
    console.log(
      `[figure] Version worst wait per round: ${rounds.map((r, i) => `#${i + 1} during the 30k-key apply ${r.apply.toFixed(0)} ms, during the first reader GetConfiguration ${r.first.toFixed(0)} ms`).join("; ")}; during 5 more ${laterWaits.map((w) => w.toFixed(0)).join(", ")} ms`,
    );
    reader.stdin.end();
    // Started for the apply, ended once idle (10 s): PID 1 carries no second JS heap while nothing is validated.
    const goneAfterMs = await workerGone(initPid, 30_000);
    const rssAfter = rssMiB(initPid);
    console.log(
      `[figure] PID 1 RSS: ${rssBefore} MiB before the apply, ${rssResident} MiB with the config worker resident after it (${resident} worker thread), ${rssAfter} MiB once the worker ended (${(goneAfterMs / 1000).toFixed(1)} s later)`,
    );
    expect(applyWait).toBeLessThan(100);
    expect(firstWait).toBeLessThan(100);
    expect(laterWait).toBeLessThan(100);
    for (const out of [...firsts, ...outs]) expect(out).toBe(`ok redacted=true key=false last-flag=true`);
    expect(resident).toBe(1);
    expect(workerThreads(initPid)).toBe(0);
  }, 300_000);
});

/** Threads of `pid` that are Bun Workers (the config worker is the only one init starts). */
function workerThreads(pid: number): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim() === "Worker") n++;
    } catch {}
  }
  return n;
}

/** Waits until `pid` has no Worker thread; returns how long that took (fails after `limitMs`). */
async function workerGone(pid: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (workerThreads(pid) > 0) {
    if (performance.now() - t0 > limitMs) throw new Error(`init still has a Worker thread after ${limitMs} ms`);
    await Bun.sleep(100);
  }
  return performance.now() - t0;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
}

function file(name: string, text: string): string {
  const p = join(work, name);
  writeFileSync(p, text);
  return p;
}

/** Line-by-line reader of a child's stdout. */
function lines(stream: ReadableStream<Uint8Array>): { next(): Promise<string> } {
  const reader = stream.getReader();
  let buf = "";
  return {
    async next() {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          return line;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`reader ended; got "${buf}"`);
        buf += Buffer.from(value).toString("utf8");
      }
    },
  };
}
