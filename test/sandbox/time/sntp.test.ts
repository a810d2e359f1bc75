// The SNTP client against real servers across a veth pair between two network
// namespaces this test creates: chronyd (Debian's `chrony`, run with -x so it
// never touches the clock) and test/fixtures/time/responder.ts (a server that
// lies by +1 h, sends garbage, kisses DENY, claims stratum 16). The client
// (test/fixtures/time/client.ts) runs in the other namespace, ALWAYS with the
// log-only adjuster: network namespaces share the host's clock.
//
// Needs root, `ip` (iproute2) and `chronyd` (apt-get install -y
// --no-install-recommends chrony); without them every test FAILS, naming what
// is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { readMonotonicNs, readRealtimeNs } from "../../../src/sys/clock.ts";

const ROOT = join(import.meta.dir, "../../..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const CLIENT = join(ROOT, "test/fixtures/time/client.ts");
const RESPONDER = join(ROOT, "test/fixtures/time/responder.ts");

const id = process.pid % 100_000;
const NS_SRV = `ntpsrv${id}`;
const NS_CLI = `ntpcli${id}`;
const VETH_SRV = `vns${id}`;
const VETH_CLI = `vnc${id}`;
const SRV_IP = "10.231.0.1";
const CLI_IP = "10.231.0.2";
const SRV_IP6 = "fd00:231::1";
const CLI_IP6 = "fd00:231::2";
/** `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts: the client's names. */
const NETNS_ETC = "/etc/netns";
const HOSTS_DIR = join(NETNS_ETC, NS_CLI);
let madeNetnsEtc = false;
const PORTS = { offset: 1123, garbage: 1124, deny: 1125, stratum16: 1126, closed: 1199 };

const tmp = mkdtempSync(join(tmpdir(), "minos-ntp-"));
const started: Subprocess[] = [];
let setupError: string | undefined;

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim()}`);
}

function chronydPath(): string | undefined {
  return Bun.which("chronyd") ?? ["/usr/sbin/chronyd", "/sbin/chronyd"].find((p) => existsSync(p));
}

/** Reads a child's stdout lines as they come. */
async function* lines(p: { stdout: ReadableStream<Uint8Array> }): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of p.stdout) {
    buf += dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

type Event = Record<string, unknown> & { event: string };

/** Runs the client in the client namespace to its end; its events. */
async function runClient(opts: Record<string, unknown>, program: string[] = [BUN, CLIENT]): Promise<Event[]> {
  const p = Bun.spawn(["ip", "netns", "exec", NS_CLI, ...program, JSON.stringify(opts)], { stdout: "pipe", stderr: "pipe" });
  const guard = setTimeout(() => p.kill("SIGKILL"), 30_000);
  const events: Event[] = [];
  for await (const line of lines(p)) if (line.startsWith("{")) events.push(JSON.parse(line) as Event);
  const code = await p.exited;
  clearTimeout(guard);
  if (code !== 0) throw new Error(`client exited ${code}: ${await new Response(p.stderr).text()}`);
  if (process.env.MINOS_TEST_ECHO) for (const e of events) console.log(JSON.stringify(e));
  return events;
}

const of = (events: Event[], kind: string) => events.filter((e) => e.event === kind);

beforeAll(async () => {
  try {
    if (process.getuid?.() !== 0) throw new Error("needs root (network namespaces)");
    if (!Bun.which("ip")) throw new Error("needs `ip` (apt-get install -y --no-install-recommends iproute2)");
    const chronyd = chronydPath();
    if (!chronyd) throw new Error("needs chronyd: apt-get install -y --no-install-recommends chrony");

    sh(["ip", "netns", "add", NS_SRV]);
    sh(["ip", "netns", "add", NS_CLI]);
    sh(["ip", "link", "add", VETH_SRV, "type", "veth", "peer", "name", VETH_CLI]);
    sh(["ip", "link", "set", VETH_SRV, "netns", NS_SRV]);
    sh(["ip", "link", "set", VETH_CLI, "netns", NS_CLI]);
    for (const [ns, dev, ip, ip6] of [
      [NS_SRV, VETH_SRV, SRV_IP, SRV_IP6],
      [NS_CLI, VETH_CLI, CLI_IP, CLI_IP6],
    ] as const) {
      sh(["ip", "-n", ns, "addr", "add", `${ip}/24`, "dev", dev]);
      sh(["ip", "-n", ns, "-6", "addr", "add", `${ip6}/64`, "dev", dev, "nodad"]);
      sh(["ip", "-n", ns, "link", "set", dev, "up"]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }

    madeNetnsEtc = !existsSync(NETNS_ETC);
    mkdirSync(HOSTS_DIR, { recursive: true });
    writeFileSync(join(HOSTS_DIR, "hosts"), `127.0.0.1 localhost\n${SRV_IP} ntp.test\n`);

    // chronyd as a server of its own local clock; -x: never touches the clock.
    const conf = join(tmp, "chrony.conf");
    writeFileSync(
      conf,
      [
        `local stratum 8`,
        `allow all`,
        `port 123`,
        `cmdport 0`,
        `bindaddress ${SRV_IP}`,
        `bindaddress ${SRV_IP6}`,
        `pidfile ${join(tmp, "chronyd.pid")}`,
        `driftfile ${join(tmp, "chrony.drift")}`,
        ``,
      ].join("\n"),
    );
    const chrony = Bun.spawn(["ip", "netns", "exec", NS_SRV, chronyd, "-x", "-d", "-f", conf], {
      stdout: "ignore",
      stderr: Bun.file(join(tmp, "chronyd.log")),
    });
    started.push(chrony);

    const responder = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        NS_SRV,
        BUN,
        RESPONDER,
        SRV_IP,
        `${PORTS.offset}=offset:3600`,
        `${PORTS.garbage}=garbage`,
        `${PORTS.deny}=kiss:DENY`,
        `${PORTS.stratum16}=stratum16`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    started.push(responder);
    const it = lines(responder);
    const first = await Promise.race([it.next(), Bun.sleep(10_000).then(() => ({ value: "timeout" }))]);
    if (!String(first.value).includes('"ready"')) throw new Error(`responder did not start: ${first.value}`);
    void (async () => {
      for await (const _ of it); // keep draining its request log
    })();

    // chronyd is ready once it has logged that it disabled clock control.
    for (let i = 0; i < 100; i++) {
      const log = existsSync(join(tmp, "chronyd.log")) ? readFileSync(join(tmp, "chronyd.log"), "utf8") : "";
      if (log.includes("Disabled control of system clock")) break;
      if (chrony.exitCode !== null) throw new Error(`chronyd exited ${chrony.exitCode}: ${log}`);
      await Bun.sleep(50);
    }
  } catch (e) {
    setupError = e instanceof Error ? e.message : String(e);
  }
}, 30_000);

afterAll(async () => {
  for (const p of started) {
    p.kill("SIGTERM");
    const t = setTimeout(() => p.kill("SIGKILL"), 3_000);
    await p.exited;
    clearTimeout(t);
  }
  // Deleting the namespaces removes the veth pair with them.
  for (const ns of [NS_SRV, NS_CLI]) Bun.spawnSync(["ip", "netns", "del", ns], { stderr: "ignore" });
  rmSync(tmp, { recursive: true, force: true });
  rmSync(HOSTS_DIR, { recursive: true, force: true });
  if (madeNetnsEtc && existsSync(NETNS_ETC) && readdirSync(NETNS_ETC).length === 0) rmdirSync(NETNS_ETC);
});

function ready(): void {
  if (setupError) throw new Error(`sandbox setup failed: ${setupError}`);
}

describe("SNTP client against real servers (netns + veth)", () => {
  test("against chronyd: synced on the first answer, offset ~0 (< 50 ms)", async () => {
    ready();
    const ev = await runClient({ servers: [SRV_IP], retryMinMs: 200, runMs: 10_000, exitOnSynced: true });
    const [synced] = of(ev, "synced");
    expect(synced).toBeDefined();
    const sample = of(ev, "sample")[0]!;
    expect(sample).toMatchObject({ server: SRV_IP, port: 123, stratum: 8, action: "step" });
    expect(Math.abs(sample.offsetMs as number)).toBeLessThan(50);
    expect(sample.delayMs as number).toBeGreaterThanOrEqual(0);
    expect(sample.delayMs as number).toBeLessThan(50);
    const toSync = synced!.answerToSyncedMs as number;
    console.log(
      `chronyd: offset ${(sample.offsetMs as number).toFixed(3)} ms, delay ${(sample.delayMs as number).toFixed(3)} ms, answer -> synced ${toSync.toFixed(3)} ms, start -> synced ${((synced!.status as { timeToSyncMs: number }).timeToSyncMs).toFixed(1)} ms`,
    );
    expect(toSync).toBeLessThan(100);
  }, 30_000);

  test("a server given by name is resolved with the system resolver (the namespace's /etc/hosts)", async () => {
    ready();
    const ev = await runClient({ servers: ["ntp.test"], retryMinMs: 200, runMs: 10_000, exitOnSynced: true });
    expect(of(ev, "synced")[0]!.status).toMatchObject({ synced: true, server: "ntp.test", address: SRV_IP, stratum: 8 });
  }, 30_000);

  test("IPv6: chronyd at an IPv6 literal", async () => {
    ready();
    const ev = await runClient({ servers: [`[${SRV_IP6}]`], retryMinMs: 200, runMs: 10_000, exitOnSynced: true });
    const sample = of(ev, "sample")[0]!;
    expect(sample).toMatchObject({ address: SRV_IP6, stratum: 8, action: "step" });
    expect(Math.abs(sample.offsetMs as number)).toBeLessThan(50);
  }, 30_000);

  test("against the +1 h responder: offset ~+3600 s, stepped; the next poll then sees ~0 and slews", async () => {
    ready();
    // The host's clock must come out of this untouched: realtime - monotonic
    // moves by a whole hour if anything stepped it.
    const before = readRealtimeNs() - readMonotonicNs();
    const ev = await runClient({ servers: [`${SRV_IP}:${PORTS.offset}`], pollMinMs: 300, pollMaxMs: 600, sampleSpacingMs: 50, samples: 2, runMs: 1_500 });
    const samples = of(ev, "sample");
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples[0]!.action).toBe("step");
    expect((samples[0]!.offsetMs as number) / 1000).toBeCloseTo(3600, 1); // within 50 ms
    // The log-only clock now reads the corrected time, as a stepped node would.
    expect(samples[1]!.action).toBe("slew");
    expect(Math.abs(samples[1]!.offsetMs as number)).toBeLessThan(50);
    const done = of(ev, "done")[0]!.status as { synced: boolean; adjuster: string };
    expect(done).toMatchObject({ synced: true, adjuster: "log-only" });
    expect(Math.abs(Number(readRealtimeNs() - readMonotonicNs() - before)) / 1e9).toBeLessThan(1);
  }, 30_000);

  test("garbage is rejected, DENY removes its server, stratum 16 is rejected, then the good server syncs", async () => {
    ready();
    const servers = [PORTS.garbage, PORTS.deny, PORTS.stratum16, PORTS.offset].map((p) => `${SRV_IP}:${p}`);
    const ev = await runClient({ servers, queryTimeoutMs: 400, pollMinMs: 300, samples: 1, runMs: 2_500 });
    const errors = of(ev, "error");
    const byServer = (port: number) => errors.filter((e) => e.server === `${SRV_IP}:${port}`);
    expect(byServer(PORTS.garbage)[0]).toMatchObject({ reason: "short" });
    expect(byServer(PORTS.deny)).toEqual([expect.objectContaining({ reason: "kiss", kiss: "DENY" })]); // asked once, never again
    expect(byServer(PORTS.stratum16)[0]).toMatchObject({ reason: "stratum-unsynchronized" });
    const synced = of(ev, "synced")[0]!;
    expect(synced.status).toMatchObject({ synced: true, server: `${SRV_IP}:${PORTS.offset}`, refused: [`${SRV_IP}:${PORTS.deny}`] });
    expect((of(ev, "sample")[0]!.offsetMs as number) / 1000).toBeCloseTo(3600, 1);
  }, 30_000);

  test("bootTimeout: with only a closed port, the client reports unreachable, then boot-timeout, and stays unsynced (and alive)", async () => {
    ready();
    const ev = await runClient({ servers: [`${SRV_IP}:${PORTS.closed}`], bootTimeoutMs: 800, queryTimeoutMs: 300, retryMinMs: 100, runMs: 1_500 });
    expect(of(ev, "bootTimeout").length).toBe(1);
    // The kernel's ICMP port unreachable, surfaced as an error, never as a crash.
    expect(of(ev, "error")[0]).toMatchObject({ reason: "unreachable" });
    expect(of(ev, "done")[0]!.status).toMatchObject({ synced: false, bootTimedOut: true });
  }, 30_000);

  test("a Bun-compiled client binary syncs against chronyd (Bun.udpSocket inside bun build --compile)", async () => {
    ready();
    const exe = join(tmp, "ntp-client");
    const build = Bun.spawnSync([BUN, "build", "--compile", CLIENT, "--outfile", exe], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`bun build --compile failed: ${build.stderr.toString()}`);
    const ev = await runClient({ servers: [SRV_IP], retryMinMs: 200, runMs: 10_000, exitOnSynced: true }, [exe]);
    const sample = of(ev, "sample")[0]!;
    expect(sample).toMatchObject({ stratum: 8, action: "step" });
    expect(Math.abs(sample.offsetMs as number)).toBeLessThan(50);
    const synced = of(ev, "synced");
    expect(synced.length).toBe(1);
    console.log(
      `compiled: offset ${(sample.offsetMs as number).toFixed(3)} ms, delay ${(sample.delayMs as number).toFixed(3)} ms, answer -> synced ${(synced[0]!.answerToSyncedMs as number).toFixed(3)} ms`,
    );
  }, 90_000);
});
