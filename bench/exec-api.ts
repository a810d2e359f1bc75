// bun bench/exec-api.ts ROUNDS NAME=BINARY ...: exec -> API answering for each
// build as /sbin/init of a fresh sandbox node (ABBA order), and PID 1's CPU time
// (utime+stime from /proc, 10 ms ticks) at the moment the first Version call
// answered. On a loaded machine the wall time swings with the neighbours; the
// CPU that init spent before it could answer is the steadier figure.
import { existsSync, readFileSync } from "node:fs";
import { bootSandbox } from "../scripts/sandbox.ts";
import { connect } from "../src/api/client.ts";
const rounds = Number(process.argv[2]);
const vs = process.argv.slice(3).map((a) => a.split("=") as [string, string]);
const res = new Map<string, { apiMs: number; cpuMs: number }[]>(vs.map(([k]) => [k, []]));
const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};
for (let r = 0; r < rounds; r++) {
  for (const [k, b] of r % 2 ? [...vs].reverse() : vs) {
    const sb = await bootSandbox({ files: [{ path: "/sbin/init", from: b, mode: 0o755 }] });
    const t0 = performance.now();
    try {
      let init = 0;
      for (;;) {
        if (!init) init = await sb.initPid().catch(() => 0);
        if (existsSync(sb.socketPath)) {
          try {
            await connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 1000 }).version();
            break;
          } catch {}
        }
        await Bun.sleep(1);
      }
      const apiMs = performance.now() - t0;
      const c = cpuMs(init || (await sb.initPid()));
      res.get(k)!.push({ apiMs, cpuMs: c });
      console.error(`round ${r + 1} ${k}: api ${apiMs.toFixed(0)} ms, PID 1 CPU ${c} ms`);
      await sb.waitForLine(/all services healthy in/, 60_000);
    } finally {
      await sb.stop().catch(() => {});
      await sb.cleanup();
    }
  }
}
const med = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 2)]!.toFixed(0)} (${s[0]!.toFixed(0)}–${s.at(-1)!.toFixed(0)})`;
};
for (const [k, xs] of res) console.log(`${k}: exec->API ${med(xs.map((x) => x.apiMs))} ms, PID 1 CPU by then ${med(xs.map((x) => x.cpuMs))} ms`);
