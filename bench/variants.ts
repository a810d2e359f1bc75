// bun bench/variants.ts [--rounds N] [--orphans N] [--calls N] [--growth N] [--configured 1] NAME=BINARY[,ENV=VALUE...] ...
// Side-by-side measurement of minos builds (or of one build under different
// environments, e.g. BUN_JSC_* options): per round, each variant boots a
// sandbox node (its binary as /sbin/init) and gets the same measurements —
// exec → API, RSS after boot, after 10k and 20k calls, API p50/p99 and
// throughput beside the node's containerd, and PID 1's CPU for an orphan storm;
// with --configured 1 also RSS after a boot with a stored machine config.
// The variants' order rotates every round. What README "Benchmarks" quotes as
// "what each change bought" comes from here.
import { apiRound, rssGrowth } from "./rows/api.ts";
import { bootOnce, configuredBootRss, rssKiB } from "./rows/node.ts";
import type { StormResult } from "./rows/reaping.ts";
import { spread } from "./rounds.ts";
import { rootfsInRam } from "./ram.ts";
import { cProgram } from "./tools.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args.splice(i, 2)[1]);
  if (!Number.isFinite(v)) throw new Error(`${name} needs a number`);
  return v;
};
const ROUNDS = opt("--rounds", 3);
const ORPHANS = opt("--orphans", 5000);
const CALLS = opt("--calls", 3000);
/** Calls of the RSS-growth measure (sampled every tenth; 10k and 20k are always reported when reached). */
const GROWTH = opt("--growth", 20_000);
/** Also boot each variant with a stored machine config (bench row 3's second line). */
const CONFIGURED = opt("--configured", 0) > 0;
const variants = args.map((a) => {
  const [name, spec] = a.split("=", 2) as [string, string];
  const [binary, ...envs] = (a.slice(name.length + 1) || spec).split(",");
  return { name, binary: binary!, env: Object.fromEntries(envs.map((e) => e.split("=", 2) as [string, string])) };
});
if (variants.length === 0) throw new Error("usage: bun bench/variants.ts NAME=BINARY[,ENV=VALUE...] ...");

type Sample = Record<string, number>;
const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
const orphans = cProgram("orphans");

for (let r = 0; r < ROUNDS; r++) {
  const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
  for (const v of order) {
    const files = [
      { path: "/sbin/init", from: v.binary, mode: 0o755 },
      { path: "/test/orphans", from: orphans, mode: 0o755 },
    ];
    // From the RAM disk, as `bun run bench` boots its nodes (bench/ram.ts).
    const { sb, sample } = await bootOnce({ env: v.env, files, ...rootfsInRam("dist/rootfs") });
    try {
      const init = await sb.initPid();
      await sb.waitForLine(/all services healthy in/, 60_000);
      await Bun.sleep(300);
      const s: Sample = { apiMs: sample.apiMs, rssBootMiB: rssKiB(init) / 1024 };
      const step = Math.min(10_000, GROWTH / 10);
      const g = await rssGrowth(sb.socketPath, () => rssKiB(init), GROWTH, step);
      const at = (calls: number) => g.find((x) => x.calls === calls);
      if (at(10_000)) s.rss10kMiB = at(10_000)!.kib / 1024;
      if (at(20_000)) s.rss20kMiB = at(20_000)!.kib / 1024;
      if (GROWTH > 20_000) {
        s.rssEndMiB = g.at(-1)!.kib / 1024;
        s.growthMiB = s.rssEndMiB - s.rssBootMiB!;
        s.from20kMiB = s.rssEndMiB - s.rss20kMiB!;
        // The highest sample from 20k on: the top of the saw-tooth a full collection cuts back.
        s.peakFrom20kMiB = Math.max(...g.filter((x) => x.calls >= 20_000).map((x) => x.kib)) / 1024;
      }
      const a = await apiRound(r, sb.socketPath, init, CALLS, 8, 1500);
      Object.assign(s, {
        p50: a.minos.latencyUs.p50,
        p99: a.minos.latencyUs.p99,
        ctrP99: a.containerd.latencyUs.p99,
        p99Ratio: a.minos.latencyUs.p99 / a.containerd.latencyUs.p99,
        rps: a.minos.rps,
        rpsRatio: a.minos.rps / a.containerd.rps,
      });
      if (ORPHANS > 0) {
        const out = Bun.spawnSync(["nsenter", "-t", String(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "/test/orphans", String(ORPHANS)], {
          stderr: "pipe",
        });
        if (out.exitCode !== 0) throw new Error(`orphan storm failed: ${out.stderr.toString()}`);
        const st = JSON.parse(out.stdout.toString()) as StormResult;
        s.reapCpuMs = st.init_cpu_ms;
        s.reapWallMs = st.total_ms;
      }
      if (CONFIGURED) s.rssConfiguredMiB = (await configuredBootRss({ env: v.env, files, ...rootfsInRam("dist/rootfs") })) / 1024;
      samples.get(v.name)!.push(s);
      console.error(
        `variants: round ${r + 1} ${v.name}: ${Object.entries(s)
          .map(([k, x]) => `${k} ${x.toFixed(k.endsWith("Ratio") ? 2 : 1)}`)
          .join(", ")}`,
      );
    } finally {
      await sb.stop().catch(() => {});
      await sb.cleanup();
    }
  }
}

const keys = Object.keys(samples.get(variants[0]!.name)![0]!);
console.log(`\n${ROUNDS} rounds; median (min–max)\n`);
console.log(`| measure | ${variants.map((v) => v.name).join(" | ")} |`);
console.log(`|---|${variants.map(() => "---").join("|")}|`);
for (const k of keys) {
  const d = k.endsWith("Ratio") ? 2 : 1;
  const cells = variants.map((v) => {
    const s = spread(samples.get(v.name)!.map((x) => x[k]!));
    return `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;
  });
  console.log(`| ${k} | ${cells.join(" | ")} |`);
}
