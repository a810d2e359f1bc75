// The sync loop in a virtual world (fakes.ts): virtual time, a machine clock
// off by a known skew behind the log-only adjuster, scripted servers.
import { describe, expect, test } from "bun:test";
import { startTimeSync, type SampleEvent, type SyncError, type TimeSyncOptions } from "../../../src/time/sync.ts";
import { kiss, ntpServer, world } from "./fakes.ts";

const S = 1_000_000_000n;
const MS = 1_000_000n;
const HOUR = 3_600n * S;

function start(w: ReturnType<typeof world>, opts: Partial<TimeSyncOptions> & { servers: string[] }, resolve?: (n: string) => Promise<string[]>) {
  const samples: (SampleEvent & { atMs: number })[] = [];
  const errors: (SyncError & { atMs: number })[] = [];
  const log: string[] = [];
  const sync = startTimeSync(
    { samples: 1, ...opts },
    { clock: w.clock, adjuster: w.adjuster, transport: w.net, timers: w.timers, log: (l) => log.push(l), ...(resolve ? { resolve } : {}) },
  );
  sync.on("sample", (s) => samples.push({ ...s, atMs: w.timers.now }));
  sync.on("error", (e) => errors.push({ ...e, atMs: w.timers.now }));
  return { sync, samples, errors, log };
}

describe("startTimeSync", () => {
  test("the first good answer steps the clock and the node is synced; then it slews", async () => {
    const w = world(-HOUR); // machine clock 1 h behind
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync, samples } = start(w, { servers: ["192.0.2.1"] });
    let syncedAt = -1;
    sync.on("synced", () => (syncedAt = w.timers.now));
    await w.timers.runUntil(200_000);
    sync.stop();

    expect(w.applied[0]!.kind).toBe("step");
    expect(Number(w.applied[0]!.offsetNs) / 1e9).toBeCloseTo(3600, 3);
    expect(syncedAt).toBe(10); // 5 ms out + 5 ms back: synced on the first answer
    expect(samples.slice(1).every((s) => s.action === "slew")).toBe(true);
    expect(samples.length).toBeGreaterThan(1);
    // After the step the corrected clock reads true time: the next offset is ~0.
    expect(Math.abs(Number(samples[1]!.offsetNs))).toBeLessThan(1_000);
    const st = sync.status();
    expect(st).toMatchObject({ synced: true, server: "192.0.2.1", address: "192.0.2.1", stratum: 2, adjuster: "log-only" });
    expect((await sync.ready).outcome).toBe("synced"); // settled by the sync, before stop()
  });

  test("poll interval: 64 s after the step, doubling to 1024 s while offsets stay small", async () => {
    const w = world(5n * S);
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(5_000_000);
    sync.stop();
    const rounds = w.net.requests.map((r) => r.atMs);
    const gaps = rounds.slice(1).map((t, i) => Math.round((t - rounds[i]!) / 1000));
    // Each gap is the interval plus the 10 ms round trip of the previous query.
    expect(gaps.slice(0, 7)).toEqual([64, 128, 256, 512, 1024, 1024, 1024]);
  });

  test("while unsynced, failed rounds retry after 1, 2, 4, 8, 16, 16 s", async () => {
    const w = world();
    const { sync, errors } = start(w, { servers: ["192.0.2.9"], queryTimeoutMs: 1000 }); // nobody answers
    await w.timers.runUntil(70_000);
    sync.stop();
    const at = w.net.requests.map((r) => r.atMs / 1000);
    // query (1 s timeout) + retry interval
    expect(at.slice(0, 7)).toEqual([0, 2, 5, 10, 19, 36, 53]);
    expect(errors[0]!.reason).toBe("timeout");
    expect(sync.status().synced).toBe(false);
  });

  test("bootTimeout: ready says boot-timeout when no server answers in time; the loop keeps trying and syncs later", async () => {
    const w = world(2n * S);
    const { sync } = start(w, { servers: ["192.0.2.1"], bootTimeoutMs: 10_000, queryTimeoutMs: 500 });
    let bootTimeoutAt = -1;
    sync.on("bootTimeout", (st) => {
      bootTimeoutAt = w.timers.now;
      expect(st.bootTimedOut).toBe(true);
    });
    let outcome = "";
    void sync.ready.then((r) => (outcome = r.outcome));
    await w.timers.runUntil(10_000);
    expect(outcome).toBe("boot-timeout");
    expect(bootTimeoutAt).toBe(10_000);
    expect(sync.status()).toMatchObject({ synced: false, bootTimedOut: true });

    w.net.serve("192.0.2.1:123", ntpServer()); // the server comes up
    await w.timers.runUntil(40_000);
    sync.stop();
    expect(sync.status().synced).toBe(true);
    expect(w.applied[0]!.kind).toBe("step");
  });

  test("no bootTimeout (Talos's default): ready waits for the sync however long it takes", async () => {
    const w = world();
    const { sync } = start(w, { servers: ["192.0.2.1"], queryTimeoutMs: 500 });
    let outcome = "";
    void sync.ready.then((r) => (outcome = r.outcome));
    await w.timers.runUntil(3_600_000);
    expect(outcome).toBe("");
    w.net.serve("192.0.2.1:123", ntpServer());
    await w.timers.runUntil(3_700_000);
    sync.stop();
    expect(outcome).toBe("synced");
  });

  test("a sync before bootTimeout resolves ready with synced, and the timeout never fires", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync } = start(w, { servers: ["192.0.2.1"], bootTimeoutMs: 1_000 });
    let fired = false;
    sync.on("bootTimeout", () => (fired = true));
    await w.timers.runUntil(5_000);
    expect((await sync.ready).outcome).toBe("synced");
    expect(fired).toBe(false);
    expect(sync.status().bootTimedOut).toBe(false);
    sync.stop();
  });

  test("kiss-o'-death DENY removes that server for good; the next one is used", async () => {
    const w = world(3n * S);
    w.net.serve("192.0.2.1:123", ntpServer({ stratum: 0, refId: kiss("DENY") }));
    w.net.serve("192.0.2.2:123", ntpServer());
    const { sync, errors } = start(w, { servers: ["192.0.2.1", "192.0.2.2"] });
    await w.timers.runUntil(3_000_000);
    sync.stop();
    expect(w.net.count("192.0.2.1:123")).toBe(1);
    expect(w.net.count("192.0.2.2:123")).toBeGreaterThan(3);
    expect(errors[0]).toMatchObject({ server: "192.0.2.1", reason: "kiss", kiss: "DENY" });
    expect(sync.status()).toMatchObject({ synced: true, server: "192.0.2.2", refused: ["192.0.2.1"] });
  });

  test("RSTR too; with every server refused the loop reports no-servers", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", ntpServer({ stratum: 0, refId: kiss("RSTR") }));
    const { sync, errors } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(60_000);
    sync.stop();
    expect(w.net.count("192.0.2.1:123")).toBe(1);
    expect(errors.map((e) => e.reason)).toContain("no-servers");
    expect(sync.status().synced).toBe(false);
  });

  test("kiss-o'-death RATE holds the server back (>= 64 s) instead of removing it", async () => {
    const w = world();
    let n = 0;
    const good = ntpServer();
    const rate = ntpServer({ stratum: 0, refId: kiss("RATE") });
    w.net.serve("192.0.2.1:123", (req, t) => (n++ === 0 ? rate(req, t) : good(req, t)));
    const { sync } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(200_000);
    sync.stop();
    const at = w.net.requests.map((r) => r.atMs);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(64_000);
    expect(sync.status().synced).toBe(true);
    expect(sync.status().refused).toEqual([]);
  });

  test("synced: a burst of samples, the one with the lowest delay (and so the least asymmetry) is applied", async () => {
    const w = world();
    let n = 0;
    // Server clock +40 ms; 5 ms out, and a return path that varies per query:
    // queuing on one leg skews the offset by half the asymmetry, so only the
    // fastest (symmetric, third) sample of each burst measures the true +40 ms.
    const backMs = [35, 35, 25, 5, 30]; // the step's query, then the burst
    const server = ntpServer({ skewNs: 40n * MS });
    w.net.serve("192.0.2.1:123", (req, t) => {
      w.net.hosts.get("192.0.2.1:123")!.backLatencyMs = backMs[Math.min(n++, 4)]!;
      return server(req, t);
    });
    const { sync, samples } = start(w, { servers: ["192.0.2.1"], samples: 4, sampleSpacingMs: 100 });
    await w.timers.runUntil(66_000);
    sync.stop();
    // Round 1 (unsynced): one query, stepped. Round 2 at 64 s: 4 queries.
    expect(w.net.requests.length).toBe(5);
    const slewed = samples.find((s) => s.action === "slew")!;
    expect(slewed).toBeDefined();
    expect(Math.abs(Number(slewed.delayNs - 10n * MS))).toBeLessThan(1_000);
    // The step of round 1 (back 35 ms) was off by -15 ms; the slew corrects it.
    const stepped = Number(w.applied[0]!.offsetNs) / 1e6;
    expect(stepped).toBeCloseTo(40 - 15, 2);
    expect(Number(slewed.offsetNs) / 1e6).toBeCloseTo(15, 2);
    expect(stepped + Number(slewed.offsetNs) / 1e6).toBeCloseTo(40, 2);
  });

  test("synced: 2 s off is stepped (above the 0.4 s step threshold), 0.1 s is slewed", async () => {
    const w = world();
    let skew = 0n;
    w.net.serve("192.0.2.1:123", (req, t) => ntpServer({ skewNs: skew })(req, t));
    const { sync } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(1_000);
    skew = 2n * S;
    await w.timers.runUntil(65_000);
    skew = 2n * S + 100n * MS;
    await w.timers.runUntil(130_000);
    sync.stop();
    expect(w.applied.map((a) => a.kind)).toEqual(["step", "step", "slew"]);
    expect(Number(w.applied[1]!.offsetNs) / 1e6).toBeCloseTo(2000, 1);
    expect(Number(w.applied[2]!.offsetNs) / 1e6).toBeCloseTo(100, 1);
  });

  test("max-change: once synced, a server jumping 1 year is held; applied only after 3 rounds in a row", async () => {
    const w = world();
    let skew = 0n;
    w.net.serve("192.0.2.1:123", (req, t) => ntpServer({ skewNs: skew })(req, t));
    const { sync, errors, samples } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(1_000);
    expect(sync.status().synced).toBe(true);
    skew = 365n * 86_400n * S;
    await w.timers.runUntil(64_000 * 2 + 1_000);
    // Two rounds held: clock untouched, still synced.
    expect(samples.filter((s) => s.action === "held").length).toBe(2);
    expect(w.applied.length).toBe(1);
    expect(errors.filter((e) => e.reason === "max-change").length).toBe(2);
    expect(sync.status().synced).toBe(true);
    await w.timers.runUntil(64_000 * 3 + 1_000);
    sync.stop();
    expect(w.applied.length).toBe(2);
    expect(w.applied[1]!.kind).toBe("step");
    expect(Number(w.applied[1]!.offsetNs / S)).toBe(365 * 86_400);
  });

  test("max-change: a one-off liar between good answers never moves the clock", async () => {
    const w = world();
    let n = 0;
    const good = ntpServer();
    const liar = ntpServer({ skewNs: 20n * 365n * 86_400n * S });
    w.net.serve("192.0.2.1:123", (req, t) => (n++ % 2 === 1 ? liar(req, t) : good(req, t)));
    const { sync } = start(w, { servers: ["192.0.2.1"] });
    await w.timers.runUntil(600_000);
    sync.stop();
    expect(w.applied.every((a) => a.offsetNs < S)).toBe(true);
  });

  test("garbage and answers from an unexpected address are ignored: the query times out naming them", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", () => new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    w.net.serve("192.0.2.2:123", ntpServer(), 5, { address: "192.0.2.66", port: 123 });
    const { sync, errors } = start(w, { servers: ["192.0.2.1", "192.0.2.2"], queryTimeoutMs: 500 });
    await w.timers.runUntil(1_100);
    sync.stop();
    expect(errors[0]).toMatchObject({ server: "192.0.2.1", reason: "short" });
    expect(errors[1]).toMatchObject({ server: "192.0.2.2", reason: "unexpected-source" });
    expect(w.applied).toEqual([]);
  });

  test("ICMP port unreachable fails the query at once (no timeout wait) and the next server is asked", async () => {
    const w = world();
    w.net.closed("192.0.2.1:123");
    w.net.serve("192.0.2.2:123", ntpServer());
    const { sync, errors } = start(w, { servers: ["192.0.2.1", "192.0.2.2"], queryTimeoutMs: 5_000 });
    let syncedAt = -1;
    sync.on("synced", () => (syncedAt = w.timers.now));
    await w.timers.runUntil(1_000);
    sync.stop();
    expect(errors[0]).toMatchObject({ server: "192.0.2.1", reason: "unreachable" });
    expect(syncedAt).toBe(20); // 10 ms to the ICMP error + 10 ms to the good answer
  });

  test("an IP literal needs no DNS; a name is resolved and each address tried", async () => {
    const w = world();
    w.net.serve("192.0.2.7:123", ntpServer());
    const asked: string[] = [];
    const resolve = async (name: string) => {
      asked.push(name);
      return ["192.0.2.6", "192.0.2.7"]; // the first does not answer
    };
    const { sync } = start(w, { servers: ["192.0.2.99", "time.example"], queryTimeoutMs: 500 }, resolve);
    await w.timers.runUntil(2_000);
    sync.stop();
    expect(asked).toEqual(["time.example"]);
    expect(sync.status()).toMatchObject({ synced: true, server: "time.example", address: "192.0.2.7" });
  });

  test("disabled: no packet, ready resolves with disabled at once", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync } = start(w, { servers: ["192.0.2.1"], disabled: true });
    expect((await sync.ready).outcome).toBe("disabled");
    await w.timers.runUntil(100_000);
    expect(w.net.requests.length).toBe(0);
    expect(sync.status()).toMatchObject({ enabled: false, synced: false });
  });

  test("stop() ends the loop: no timer left, no query after it", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync } = start(w, { servers: ["192.0.2.1"], bootTimeoutMs: 1_000_000 });
    await w.timers.runUntil(1_000);
    sync.stop();
    const n = w.net.requests.length;
    await w.timers.runUntil(5_000_000);
    expect(w.net.requests.length).toBe(n);
    expect(w.timers.pending()).toBe(0);
  });

  test("a bad server spec is reported and the others still work", async () => {
    const w = world();
    w.net.serve("192.0.2.1:123", ntpServer());
    const { sync, errors } = start(w, { servers: ["nts://time.example", "192.0.2.1"] });
    await w.timers.runUntil(1_000);
    sync.stop();
    expect(errors[0]!.server).toBe("nts://time.example");
    expect(sync.status().synced).toBe(true);
  });
});
