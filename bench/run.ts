// bun run bench: minos beside the peers a user would otherwise pick (BusyBox,
// tini, containerd's Go gRPC server) and lower bounds (a static C program, a
// Bun hello binary), measured in interleaved rounds in one run on one machine.
//   --rounds N   rounds per row (default 5; --quick: 2)
//   --quick      fewer rounds and samples (a smoke run)
//   --only A,B   only these sections: coldstart, node (boot, RSS, API,
//                dashboard, respawn), reaping, shutdown, size, containers
// Each row prints the median of its round values (min–max), the median of the
// per-round ratios (min–max) and whether its target held in every round
// (bench/rounds.ts). Writes bench/results.json.
import { cpus, loadavg, totalmem } from "node:os";
import { writeFileSync } from "node:fs";
import { apiRound, rssGrowth, type ApiRound } from "./rows/api.ts";
import { coldStart } from "./rows/coldstart.ts";
import { containerRows, rssNote } from "./rows/containers.ts";
import { dashboardRss } from "./rows/dashboard.ts";
import { etcdBench, etcdRows } from "./rows/etcd.ts";
import { anonKiB, bootOnce, configuredBootRss, busyboxFirstAction, busyboxRespawn, idleMemory, idleRss, respawnOnce, rssKiB } from "./rows/node.ts";
import { stormUnderBusybox, stormUnderTini, type StormResult } from "./rows/reaping.ts";
import { busyboxShutdown, minosShutdown } from "./rows/shutdown.ts";
import { sizes } from "./rows/size.ts";
import { NO_JIT_ENV } from "../src/applets/dashboard/nojit.ts";
import { apiClientFloorRss, responderRound, type ResponderSide } from "./rows/transport.ts";
import { pair, rowCells, summarizeRow, type RoundRow } from "./rounds.ts";
import { summarize } from "./stats.ts";
import { closeRam, inRam, rootfsInRam } from "./ram.ts";
import { bunHello, cProgram, peers } from "./tools.ts";

const quick = process.argv.includes("--quick");
const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : quick ? 2 : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("bench: --rounds needs a positive integer");
const SECTIONS = ["coldstart", "node", "reaping", "shutdown", "etcd", "size", "containers"];
const onlyArg = process.argv.indexOf("--only");
const only = onlyArg > 0 ? new Set((process.argv[onlyArg + 1] ?? "").split(",").filter(Boolean)) : undefined;
for (const s of only ?? []) if (!SECTIONS.includes(s)) throw new Error(`bench: --only ${s}: not a section (${SECTIONS.join(", ")})`);
const want = (section: string) => only === undefined || only.has(section);
/**
 * Sequential calls per round and side: a p99 of 200 tail samples. With 5,000 (50 tail samples, half a
 * second of calls) a round's p99 followed where a few scheduler stalls of the 2-vCPU machine happened
 * to bunch up: 0.6-2.5x containerd within one run of the same code.
 */
const LATENCY_N = quick ? 1000 : 20_000;
const THROUGHPUT_MS = quick ? 1000 : 2000;
const GROWTH_CALLS = quick ? 20_000 : 100_000;
const ORPHANS = quick ? 2000 : 10_000;
/** When PID 1's RSS is read after the growth calls: before and after its idle trim (30 s). */
const REST_SAMPLES_MS = [1000, 10_000, 40_000];

const t0 = performance.now();
const load0 = loadavg()[0]!;
const p = peers();
const rows: RoundRow[] = [];
const extra: string[][] = [];
const results: Record<string, unknown> = { rounds: ROUNDS };
const log = (m: string) => console.error(`bench: ${m}`);
const mib = (kib: number) => kib / 1024;

// 1. Cold start: each round 30 interleaved execs of each (12 gave per-round medians 0.99-1.26x the hello); the round value is their median.
if (want("coldstart")) {
  const r = await coldStart(p, ROUNDS, quick ? 6 : 30);
  results.coldStart = r;
  rows.push({
    name: "1 cold start `poweroff --help`",
    unit: "ms",
    digits: 1,
    minos: r.map((x) => x.minos),
    peer: { name: "Bun hello", values: r.map((x) => x.bunHello) },
    others: [
      { name: "busybox", values: r.map((x) => x.busybox), digits: 2 },
      { name: "C", values: r.map((x) => x.c), digits: 2 },
    ],
    target: { of: "ratio", op: "<=", value: 1.15, text: "≤ 1.15× Bun hello" },
  });
  log(rowCells(rows.at(-1)!).join(" | "));
}

// 2–4, 8: one booted node per round.
if (want("node")) {
  const boot = { apiMs: [] as number[], healthyMs: [] as number[], healthySelfMs: [] as number[], bbFirst: [] as number[] };
  const mem = {
    bootKiB: [] as number[],
    helloKiB: [] as number[],
    bootAnonKiB: [] as number[],
    helloAnonKiB: [] as number[],
    /** PID 1 of a node booted with a stored machine config (the bench's other nodes run the default). */
    configuredKiB: [] as number[],
    tiniKiB: [] as number[],
    dashboardKiB: [] as number[],
    dashboardJitKiB: [] as number[],
    clientFloorKiB: [] as number[],
  };
  // The dashboard as init runs it (--console: it re-executes itself without the JIT) and, to show what that buys, with the JIT kept.
  const responders: { grpcjs: ResponderSide; h2: ResponderSide }[] = [];
  const api: ApiRound[] = [];
  let growth: { calls: number; kib: number }[] = [];
  /** PID 1's RSS once the growth calls have stopped: after 1 s, 10 s and 40 s without a call. */
  const atRest: { ms: number; kib: number }[] = [];
  const respawn: number[] = [];
  let bbRespawn: number[] = [];
  // Every binary of these rows runs from the bench's RAM disk, as a node's run from its initramfs (bench/ram.ts).
  const hello = inRam(await bunHello());
  const tini = inRam(p.tini);
  const busybox = inRam(p.busybox);
  const minosBin = inRam("dist/minos");
  const ram = rootfsInRam("dist/rootfs");
  for (let r = 0; r < ROUNDS; r++) {
    // ABBA: busybox's boot is timed before minos's in odd rounds.
    if (r % 2 === 1) boot.bbFirst.push(await busyboxFirstAction(p.busybox));
    const { sb, sample } = await bootOnce(ram);
    if (r % 2 === 0) boot.bbFirst.push(await busyboxFirstAction(p.busybox));
    try {
      boot.apiMs.push(sample.apiMs);
      boot.healthyMs.push(sample.healthyMs);
      boot.healthySelfMs.push(sample.healthySelfMs);
      const init = await sb.initPid();
      await Bun.sleep(300); // let the boot's last tasks settle
      mem.bootKiB.push(rssKiB(init));
      mem.bootAnonKiB.push(anonKiB(init));
      const helloMem = await idleMemory([hello, "--stay"]);
      mem.helloKiB.push(helloMem.rssKiB);
      mem.helloAnonKiB.push(helloMem.anonKiB);
      mem.tiniKiB.push(await idleRss([tini, "-s", "--", busybox, "sleep", "60"]));
      api.push(await apiRound(r, sb.socketPath, init, LATENCY_N, 8, THROUGHPUT_MS));
      const a = api.at(-1)!;
      log(
        `round ${r + 1}/${ROUNDS}: API p50 ${a.minos.latencyUs.p50.toFixed(0)}/${a.containerd.latencyUs.p50.toFixed(0)} p99 ${a.minos.latencyUs.p99.toFixed(0)}/${a.containerd.latencyUs.p99.toFixed(0)} µs, ${a.minos.rps.toFixed(0)}/${a.containerd.rps.toFixed(0)} calls/s`,
      );
      responders.push(await responderRound(r, LATENCY_N, 8, THROUGHPUT_MS));
      const settle = quick ? 2000 : 3500;
      const [d, dj] = await pair(
        r,
        () => dashboardRss(minosBin, sb.socketPath, settle),
        () => dashboardRss(minosBin, sb.socketPath, settle, { BUN_JSC_useJIT: "1" }),
      );
      mem.dashboardKiB.push(d);
      mem.dashboardJitKiB.push(dj);
      mem.clientFloorKiB.push(await apiClientFloorRss(sb.socketPath, settle, NO_JIT_ENV));
      // Last in the round: a second node's boot and teardown must not run beside the API rows.
      mem.configuredKiB.push(await configuredBootRss(ram));
      if (r === ROUNDS - 1) {
        for (let k = 0; k < (quick ? 1 : 3); k++) {
          respawn.push(await respawnOnce(init, "containerd"));
          await sb.waitForLine(/containerd.*(healthy|Running)/, 60_000, sb.lines.length);
        }
        bbRespawn = await busyboxRespawn(p.busybox, quick ? 3 : 5);
      }
    } finally {
      await sb.stop().catch(() => {});
      await sb.cleanup();
    }
  }
  {
    // The growth row: a fresh node that has answered nothing yet, after the rounds, so that its long
    // rest (PID 1 trims its memory 30 s after the last call, src/lib/idle-trim.ts) and the trim's
    // recompilation never precede a latency round.
    const { sb } = await bootOnce(ram);
    try {
      const init = await sb.initPid();
      await Bun.sleep(300);
      growth = await rssGrowth(sb.socketPath, () => rssKiB(init), GROWTH_CALLS, GROWTH_CALLS / 10);
      // Under load the RSS holds the collector's and allocators' working set; a node is idle most of the time, and what stays then is what it pays.
      for (const ms of REST_SAMPLES_MS) {
        await Bun.sleep(ms - (atRest.at(-1)?.ms ?? 0));
        atRest.push({ ms, kib: rssKiB(init) });
      }
      log(
        `RSS growth: ${growth.map((g) => `${g.calls / 1000}k ${mib(g.kib).toFixed(1)}`).join(", ")} MiB; at rest ${atRest.map((a) => `${a.ms / 1000} s ${mib(a.kib).toFixed(1)}`).join(", ")} MiB`,
      );
    } finally {
      await sb.stop().catch(() => {});
      await sb.cleanup();
    }
  }
  results.boot = boot;
  results.memory = { ...mem, growth, atRest };
  results.api = api;
  results.responders = responders;
  rows.push({
    name: "2 boot: exec → API answering",
    unit: "ms",
    digits: 0,
    minos: boot.apiMs,
    peer: { name: "busybox init first action", values: boot.bbFirst },
    target: { of: "minos", op: "<=", value: 60, text: "≤ 60 ms" },
  });
  rows.push({
    name: "2 boot: exec → all services healthy (real containerd)",
    unit: "ms",
    digits: 0,
    minos: boot.healthyMs,
    others: [{ name: "init's own count", values: boot.healthySelfMs }],
  });
  rows.push({
    name: "3 PID 1 RSS after boot",
    unit: "MiB",
    digits: 1,
    minos: mem.bootKiB.map(mib),
    peer: { name: "Bun hello", values: mem.helloKiB.map(mib) },
    others: [{ name: "tini", values: mem.tiniKiB.map(mib), digits: 2 }],
    target: { of: "ratio", op: "<=", value: 2.0, text: "≤ 2.0× Bun hello" },
  });
  rows.push({
    name: "3 PID 1 RSS after boot with a stored machine config",
    unit: "MiB",
    digits: 1,
    minos: mem.configuredKiB.map(mib),
    peer: { name: "Bun hello", values: mem.helloKiB.map(mib) },
  });
  rows.push({
    name: "3 PID 1 anonymous RSS after boot (RSS without file pages)",
    unit: "MiB",
    digits: 1,
    minos: mem.bootAnonKiB.map(mib),
    peer: { name: "Bun hello", values: mem.helloAnonKiB.map(mib) },
  });
  {
    // One series (100,000 calls take long): growth from boot, and from 20k on.
    const at = (calls: number) => growth.find((g) => g.calls === calls)?.kib ?? Number.NaN;
    const total = growth.at(-1)!;
    const from20 = mib(total.kib - at(GROWTH_CALLS / 5));
    const grew = mib(total.kib - growth[0]!.kib);
    const rest = atRest.at(-1)!;
    rows.push({
      name: `3 PID 1 RSS growth over ${total.calls.toLocaleString("en")} API calls, at rest (${rest.ms / 1000} s after the last)`,
      unit: "MiB",
      digits: 1,
      minos: [mib(rest.kib - growth[0]!.kib)],
      note: `${atRest.map((a) => `${a.ms / 1000} s after: +${mib(a.kib - growth[0]!.kib).toFixed(1)}`).join("; ")} MiB (from ${mib(growth[0]!.kib).toFixed(1)} after boot)`,
      target: { of: "minos", op: "<=", value: 8, text: "≤ +8 MiB" },
    });
    rows.push({
      name: `3 PID 1 RSS growth over ${total.calls.toLocaleString("en")} API calls, under load (8 clients)`,
      unit: "MiB",
      digits: 1,
      minos: [grew],
      note: `every ${(GROWTH_CALLS / 10 / 1000).toFixed(0)}k: ${growth.map((g) => mib(g.kib).toFixed(1)).join(" ")} MiB; from ${GROWTH_CALLS / 5000}k on ${from20 >= 0 ? "+" : ""}${from20.toFixed(1)} MiB`,
    });
    extra.push([`flat from ${GROWTH_CALLS / 5000}k on (≤ +2 MiB from there to the end)`, from20 <= 2 ? "met" : "NOT met"]);
  }
  rows.push({
    name: "4 API Version p50 (unix socket, 1 client)",
    unit: "µs",
    digits: 0,
    minos: api.map((a) => a.minos.latencyUs.p50),
    peer: { name: "containerd", values: api.map((a) => a.containerd.latencyUs.p50) },
  });
  rows.push({
    name: `4 API Version p99 (unix socket, 1 client, ${LATENCY_N} calls/round)`,
    unit: "µs",
    digits: 0,
    minos: api.map((a) => a.minos.latencyUs.p99),
    peer: { name: "containerd", values: api.map((a) => a.containerd.latencyUs.p99) },
    target: { of: "ratio", op: "<=", value: 1.5, text: "≤ 1.5× containerd" },
  });
  // Bad p99 rounds came with the hypervisor taking CPU from this VM (README, "Where the remaining cost is"): shown per round and side.
  const steal = (side: "minos" | "containerd") => api.map((a) => a[side].latencyUs.stealPct.toFixed(0)).join(" ");
  extra.push(["4 CPU steal during the p99 calls, % of the vCPUs, per round", `minos ${steal("minos")}; containerd ${steal("containerd")}`]);
  rows.push({
    name: "4 API throughput, 8 clients",
    unit: "calls/s",
    digits: 0,
    minos: api.map((a) => a.minos.rps),
    peer: { name: "containerd", values: api.map((a) => a.containerd.rps) },
    target: { of: "ratio", op: ">=", value: 0.9, text: "≥ 0.9× containerd" },
  });
  rows.push({
    name: "8 dashboard RSS (pty, against the node, as init runs it: no JIT)",
    unit: "MiB",
    digits: 1,
    minos: mem.dashboardKiB.map(mib),
    peer: { name: "API client floor", values: mem.clientFloorKiB.map(mib) },
    others: [
      { name: "the same dashboard with the JIT", values: mem.dashboardJitKiB.map(mib) },
      { name: "Bun hello", values: mem.helloKiB.map(mib) },
    ],
    target: { of: "minos", op: "<=", value: 62 * 0.7, text: "≤ 43.4 MiB (0.7× 62)" },
  });
  // 4b: bench-only prototypes (bench/peers/), grpc-js in the minos column, a bare node:http2 responder as the peer.
  const g = (f: (s: ResponderSide) => number) => responders.map((x) => f(x.grpcjs));
  const h = (f: (s: ResponderSide) => number) => responders.map((x) => f(x.h2));
  rows.push({
    name: "4b Version p50, grpc-js responder vs bare node:http2 (bench-only)",
    unit: "µs",
    digits: 0,
    minos: g((s) => s.latencyUs.p50),
    peer: { name: "node:http2", values: h((s) => s.latencyUs.p50) },
  });
  rows.push({
    name: "4b Version p99, grpc-js responder vs bare node:http2 (bench-only)",
    unit: "µs",
    digits: 0,
    minos: g((s) => s.latencyUs.p99),
    peer: { name: "node:http2", values: h((s) => s.latencyUs.p99) },
  });
  rows.push({
    name: "4b throughput, grpc-js responder vs bare node:http2 (bench-only)",
    unit: "calls/s",
    digits: 0,
    minos: g((s) => s.rps),
    peer: { name: "node:http2", values: h((s) => s.rps) },
  });
  rows.push({
    name: "4b RSS at start, grpc-js responder vs bare node:http2 (bench-only)",
    unit: "MiB",
    digits: 1,
    minos: g((s) => mib(s.rssStartKiB)),
    peer: { name: "node:http2", values: h((s) => mib(s.rssStartKiB)) },
    others: [
      { name: "after the calls: grpc-js", values: g((s) => mib(s.rssAfterKiB)) },
      { name: "node:http2", values: h((s) => mib(s.rssAfterKiB)) },
    ],
  });
  {
    const m = summarize(respawn);
    const b = summarize(bbRespawn);
    results.respawn = { minos: respawn, busybox: bbRespawn };
    extra.push(["6 kill -9 of a service → running again", `${m.median.toFixed(0)} ms (busybox respawn ${b.median.toFixed(0)} ms)`]);
  }
}

// 5. Reaping: the same orphan storm under each PID 1, one round = minos, tini, busybox.
if (want("reaping")) {
  const orphans = cProgram("orphans");
  const storms: Record<"minos" | "tini" | "busybox", StormResult[]> = { minos: [], tini: [], busybox: [] };
  const { bootSandbox } = await import("../scripts/sandbox.ts");
  const sb = await bootSandbox({ files: [{ path: "/test/orphans", from: orphans, mode: 0o755 }] });
  try {
    await sb.waitForLine(/all services healthy in/, 60_000);
    const init = await sb.initPid();
    const underMinos = () => {
      const out = Bun.spawnSync(["nsenter", "-t", String(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "/test/orphans", String(ORPHANS)], {
        stderr: "pipe",
      });
      if (out.exitCode !== 0) throw new Error(`bench: orphan storm in minos failed: ${out.stderr.toString()}`);
      return JSON.parse(out.stdout.toString()) as StormResult;
    };
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 1) storms.tini.push(stormUnderTini(p.tini, ORPHANS));
      storms.minos.push(underMinos());
      if (r % 2 === 0) storms.tini.push(stormUnderTini(p.tini, ORPHANS));
      storms.busybox.push(await stormUnderBusybox(p.busybox, ORPHANS));
    }
  } finally {
    await sb.stop().catch(() => {});
    await sb.cleanup();
  }
  results.reaping = { orphans: ORPHANS, ...storms };
  const n = ORPHANS.toLocaleString("en");
  rows.push({
    name: `5 reap ${n} orphans: wall`,
    unit: "ms",
    digits: 0,
    minos: storms.minos.map((s) => s.total_ms),
    peer: { name: "tini", values: storms.tini.map((s) => s.total_ms) },
    others: [{ name: "busybox", values: storms.busybox.map((s) => s.total_ms) }],
  });
  rows.push({
    name: `5 reap ${n} orphans: PID 1 CPU`,
    unit: "ms",
    digits: 0,
    minos: storms.minos.map((s) => s.init_cpu_ms),
    peer: { name: "tini", values: storms.tini.map((s) => s.init_cpu_ms) },
    others: [{ name: "busybox", values: storms.busybox.map((s) => s.init_cpu_ms) }],
    target: { of: "ratio", op: "<=", value: 1.5, text: "≤ 1.5× tini" },
  });
}

// 6. Shutdown with 10 services.
if (want("shutdown")) {
  const downs = { minos: [] as number[], busybox: [] as number[] };
  for (let r = 0; r < Math.min(ROUNDS, 3); r++) {
    downs.minos.push(await minosShutdown(p.busybox));
    downs.busybox.push(await busyboxShutdown(p.busybox));
  }
  results.shutdown = downs;
  rows.push({ name: "6 shutdown with 10 services", unit: "ms", digits: 0, minos: downs.minos, peer: { name: "busybox init", values: downs.busybox } });
}

// 10. etcd run by minos vs run directly (bench/rows/etcd.ts; alone: bun bench/rows/etcd.ts).
if (want("etcd")) {
  const e = await etcdBench(ROUNDS, quick, log);
  results.etcd = e;
  rows.push(...etcdRows(e));
}

// 7. Sizes.
if (want("size")) {
  const sz = sizes(p);
  results.sizes = sz;
  const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  extra.push(["7 size: binary", `${mb(sz.minos)} (busybox ${mb(sz.busybox)}; tini ${mb(sz.tini)})`]);
  extra.push(["7 size: rootfs / initramfs", `${mb(sz.rootfs)} / ${sz.initramfs === null ? "not built (bun run image)" : mb(sz.initramfs)}`]);
}

// 9. containerd's work: image pull and container start, minos's client vs ctr in one containerd (bench/rows/containers.ts).
if (want("containers")) {
  const c = await containerRows(ROUNDS, log);
  results.containers = c;
  const wire = (c.pull.reduce((a, x) => a + x.bytes, 0) / c.pull.length / 1048576).toFixed(1);
  rows.push({
    name: `9 image pull ~50 MiB (${wire} MiB, 4 gzip layers) from a local registry`,
    unit: "ms",
    digits: 0,
    minos: c.pull.map((x) => x.minosMs),
    peer: { name: "ctr images pull", values: c.pull.map((x) => x.ctrMs) },
    target: { of: "ratio", op: "<=", value: 1.2, text: "≤ 1.2× ctr" },
  });
  rows.push({
    name: "9 container create → running",
    unit: "ms",
    digits: 0,
    minos: c.start.map((x) => x.minosMs),
    peer: { name: "ctr run -d", values: c.start.map((x) => x.ctrMs) },
    target: { of: "ratio", op: "<=", value: 1.2, text: "≤ 1.2× ctr" },
  });
  extra.push([`9 containerd ${c.containerd}`, rssNote(c.pull)]);
}

const machine = `${cpus().length}× ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${(await Bun.file("/proc/sys/kernel/osrelease").text()).trim()}, Bun ${Bun.version}`;
const seconds = (performance.now() - t0) / 1000;
const load = `load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`;
results.machine = machine;
results.load = load;
results.seconds = seconds;
results.rows = rows.map((r) => ({ ...r, summary: summarizeRow(r) }));
writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n");
closeRam();

const table = [
  ["row", "minos", "peer / bound", "ratio", "target"],
  ...rows.map(rowCells).sort((a, b) => Number.parseInt(a[0]!, 10) - Number.parseInt(b[0]!, 10)),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`\nminos benchmark — ${machine}; ${ROUNDS} rounds; ${load}\n`);
console.log(line(table[0]!));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of table.slice(1)) console.log(line(r));
console.log("");
for (const [k, v] of extra) console.log(`${k}: ${v}`);
console.log(`\n(median of the rounds, min–max in parentheses; ratio = median of per-round ratios; ${seconds.toFixed(0)} s; bench/results.json)`);
