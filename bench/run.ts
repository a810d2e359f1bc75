// bun run bench: minos beside the peers a user would otherwise pick (BusyBox,
// tini) and lower bounds, measured interleaved in one run on one machine.
// Prints a table of medians (p10–p90) and ratios; writes bench/results.json.
import { cpus, totalmem } from "node:os";
import { writeFileSync } from "node:fs";
import { apiRow } from "./rows/api.ts";
import { coldStart } from "./rows/coldstart.ts";
import { bootOnce, busyboxFirstAction, busyboxRespawn, idleRss, respawnOnce, rssKiB } from "./rows/node.ts";
import { stormUnderBusybox, stormUnderTini, summarizeStorms, type StormResult } from "./rows/reaping.ts";
import { busyboxShutdown, minosShutdown } from "./rows/shutdown.ts";
import { sizes } from "./rows/size.ts";
import { fmt, ratio, summarize } from "./stats.ts";
import { bunHello, cProgram, peers } from "./tools.ts";
import { connect } from "../src/api/client.ts";

const quick = process.argv.includes("--quick");
const t0 = performance.now();
const p = peers();
const results: Record<string, unknown> = {};
const table: string[][] = [["row", "minos", "peer / bound", "ratio"]];
const row = (...cells: string[]) => {
  table.push(cells);
  console.error(`bench: ${cells.join(" | ")}`);
};

// 1. Cold start
const cold = await coldStart(p, quick ? 15 : 40);
results.coldStart = cold;
row(
  "1 cold start `poweroff --help`",
  fmt(cold.minos, "ms"),
  `Bun hello ${fmt(cold.bunHello, "ms")}; busybox ${fmt(cold.busybox, "ms", 2)}; C ${fmt(cold.c, "ms", 2)}`,
  `${ratio(cold.minos.median, cold.bunHello.median)} Bun hello, ${ratio(cold.minos.median, cold.busybox.median)} busybox`,
);

// 2. Boot, 3. memory, 4. API, 5. reaping (minos), 6. supervision — on booted nodes.
const bootRounds = quick ? 2 : 4;
const boots = [];
const bbFirst: number[] = [];
for (let i = 0; i < bootRounds; i++) {
  const { sb, sample } = await bootOnce();
  boots.push(sample);
  bbFirst.push(await busyboxFirstAction(p.busybox));
  if (i < bootRounds - 1) {
    await sb.stop();
    await sb.cleanup();
    continue;
  }
  // The last node stays up for the rows that need a running node.
  try {
    const init = await sb.initPid();
    const rssBoot = rssKiB(init);
    const c = connect({ endpoint: `unix:${sb.socketPath}` });
    for (let k = 0; k < 10_000; k++) await c.version();
    const rssAfter = rssKiB(init);
    const helloRss = await idleRss([await bunHello(), "--stay"]);
    const tiniRss = await idleRss([p.tini, "-s", "--", p.busybox, "sleep", "60"]);
    results.memory = { rssBootKiB: rssBoot, rssAfter10kCallsKiB: rssAfter, bunHelloKiB: helloRss, tiniKiB: tiniRss };
    row(
      "3 PID 1 RSS after boot",
      `${(rssBoot / 1024).toFixed(1)} MiB`,
      `Bun hello ${(helloRss / 1024).toFixed(1)} MiB; tini ${(tiniRss / 1024).toFixed(2)} MiB`,
      `${ratio(rssBoot, helloRss)} Bun hello`,
    );
    row(
      "3 PID 1 RSS after 10,000 API calls",
      `${(rssAfter / 1024).toFixed(1)} MiB (${rssAfter >= rssBoot ? "+" : ""}${((rssAfter - rssBoot) / 1024).toFixed(1)} MiB)`,
      "—",
      `${ratio(rssAfter, rssBoot)} after boot`,
    );

    const api = await apiRow(sb.socketPath, init, quick ? 500 : 2000, 8, quick ? 1000 : 3000);
    results.api = api;
    row(
      "4 API Version p50 / p99 (unix socket)",
      `${api.minos.latencyUs.p50.toFixed(0)} / ${api.minos.latencyUs.p99.toFixed(0)} µs`,
      `containerd Version ${api.containerd.latencyUs.p50.toFixed(0)} / ${api.containerd.latencyUs.p99.toFixed(0)} µs`,
      `${ratio(api.minos.latencyUs.p50, api.containerd.latencyUs.p50)} p50`,
    );
    row(
      "4 API throughput, 8 clients",
      `${api.minos.rps.toFixed(0)} calls/s`,
      `containerd ${api.containerd.rps.toFixed(0)} calls/s`,
      `${ratio(api.minos.rps, api.containerd.rps)}`,
    );

    const respawn: number[] = [];
    for (let k = 0; k < (quick ? 1 : 3); k++) {
      respawn.push(await respawnOnce(init, "containerd"));
      await sb.waitForLine(/containerd.*(healthy|Running)/, 60_000, sb.lines.length);
    }
    const bbRespawn = await busyboxRespawn(p.busybox, quick ? 3 : 5);
    results.respawn = { minos: summarize(respawn), busybox: summarize(bbRespawn) };
    row(
      "6 kill -9 of a service -> running again",
      fmt(summarize(respawn), "ms"),
      `busybox respawn ${fmt(summarize(bbRespawn), "ms")}`,
      ratio(summarize(respawn).median, summarize(bbRespawn).median),
    );
  } finally {
    await sb.stop().catch(() => {});
    await sb.cleanup();
  }
}
const apiS = summarize(boots.map((b) => b.apiMs));
const healthyS = summarize(boots.map((b) => b.healthyMs));
const bbS = summarize(bbFirst);
results.boot = { boots, busyboxFirstActionMs: bbFirst };
row("2 boot: exec -> API answering", fmt(apiS, "ms", 0), `busybox init first action ${fmt(bbS, "ms", 1)}`, ratio(apiS.median, bbS.median));
row("2 boot: exec -> all services healthy", fmt(healthyS, "ms", 0), `(init's own count: ${fmt(summarize(boots.map((b) => b.healthySelfMs)), "ms", 0)})`, "—");

// 5. Reaping: the same orphan storm under each PID 1.
const N = quick ? 2000 : 10_000;
const orphans = cProgram("orphans");
const storms: Record<"minos" | "tini" | "busybox", StormResult[]> = { minos: [], tini: [], busybox: [] };
{
  const { bootSandbox } = await import("../scripts/sandbox.ts");
  const sb = await bootSandbox({ files: [{ path: "/test/orphans", from: orphans, mode: 0o755 }] });
  try {
    await sb.waitForLine(/all services healthy in/, 60_000);
    const init = await sb.initPid();
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      const out = Bun.spawnSync(["nsenter", "-t", String(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "/test/orphans", String(N)], { stderr: "pipe" });
      if (out.exitCode !== 0) throw new Error(`bench: orphan storm in minos failed: ${out.stderr.toString()}`);
      storms.minos.push(JSON.parse(out.stdout.toString()) as StormResult);
      storms.tini.push(stormUnderTini(p.tini, N));
      storms.busybox.push(await stormUnderBusybox(p.busybox, N));
    }
  } finally {
    await sb.stop().catch(() => {});
    await sb.cleanup();
  }
}
const st = { minos: summarizeStorms(storms.minos), tini: summarizeStorms(storms.tini), busybox: summarizeStorms(storms.busybox) };
results.reaping = { orphans: N, ...st };
row(
  `5 reap ${N} orphans: wall`,
  fmt(st.minos.total, "ms", 0),
  `tini ${fmt(st.tini.total, "ms", 0)}; busybox ${fmt(st.busybox.total, "ms", 0)}`,
  `${ratio(st.minos.total.median, st.tini.total.median)} tini`,
);
row(
  `5 reap ${N} orphans: PID 1 CPU`,
  fmt(st.minos.initCpu, "ms", 0),
  `tini ${fmt(st.tini.initCpu, "ms", 0)}; busybox ${fmt(st.busybox.initCpu, "ms", 0)}`,
  `${ratio(st.minos.initCpu.median, st.tini.initCpu.median)} tini`,
);

// 6b. Shutdown with 10 services.
const downs = { minos: [] as number[], busybox: [] as number[] };
for (let r = 0; r < (quick ? 1 : 3); r++) {
  downs.minos.push(await minosShutdown(p.busybox));
  downs.busybox.push(await busyboxShutdown(p.busybox));
}
const dm = summarize(downs.minos);
const db = summarize(downs.busybox);
results.shutdown = { minos: dm, busybox: db };
row("6 shutdown with 10 services", fmt(dm, "ms", 0), `busybox init ${fmt(db, "ms", 0)}`, ratio(dm.median, db.median));

// 7. Sizes.
const sz = sizes(p);
results.sizes = sz;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
row("7 size: binary", mib(sz.minos), `busybox ${mib(sz.busybox)}; tini ${mib(sz.tini)}`, `${ratio(sz.minos, sz.busybox)} busybox`);
row("7 size: rootfs / initramfs", `${mib(sz.rootfs)} / ${sz.initramfs === null ? "not built (bun run image)" : mib(sz.initramfs)}`, "—", "—");

const machine = `${cpus().length}× ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${(await Bun.file("/proc/sys/kernel/osrelease").text()).trim()}, Bun ${Bun.version}`;
results.machine = machine;
const seconds = (performance.now() - t0) / 1000;
results.seconds = seconds;
writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n");

// Rows are measured in the order that shares booted nodes; print them by row number.
const [header, ...body] = table;
table.splice(0, table.length, header!, ...body.sort((a, b) => Number.parseInt(a[0]!, 10) - Number.parseInt(b[0]!, 10)));
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`\nminos benchmark — ${machine}\n`);
console.log(line(table[0]!));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of table.slice(1)) console.log(line(r));
console.log(`\n(median, p10–p90 in parentheses; ${seconds.toFixed(0)} s; bench/results.json)`);
