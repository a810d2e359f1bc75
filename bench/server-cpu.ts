// bun bench/server-cpu.ts [--rounds N] [--calls N] NAME=ROOT NAME=ROOT ...
// The machine API server's own cost, per source tree: each round starts each
// tree's server (bench/peers/api-server.ts, its startMachineApi over the
// FakeBackend) in its own process, in rotating order, and drives it from this
// process with minos's client transport: warm-up, `calls` sequential Version
// calls (p50, p99), then 1.5 s of 8 clients (calls/s). The server's CPU time
// (/proc/<pid>/stat utime+stime) over all of it, divided by its calls, is the
// figure that a loaded machine disturbs least. ROOT is a checkout of minos
// (e.g. `git archive <commit> src test/helpers | tar -x -C /tmp/x` and a
// node_modules symlink).
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transport } from "../src/api/transport.ts";
import { spread } from "./rounds.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : Number(args.splice(i, 2)[1]);
};
const ROUNDS = opt("--rounds", 3);
const CALLS = opt("--calls", 3000);
const WARM = 300;
const THROUGHPUT_MS = 1500;
const trees = args.map((a) => {
  const [name, root] = a.split("=", 2) as [string, string];
  return { name, root };
});
if (trees.length === 0) throw new Error("usage: bun bench/server-cpu.ts NAME=ROOT ...");

const PATH = "/machine.MachineService/Version";
const EMPTY = new Uint8Array(0);
const cpuTicks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
};

type Sample = { cpuUsPerCall: number; p50Us: number; p99Us: number; rps: number };
const samples = new Map<string, Sample[]>(trees.map((t) => [t.name, []]));

async function measure(socket: string, pid: number): Promise<Sample> {
  const t = new Transport({ kind: "unix", path: socket });
  const clients = Array.from({ length: 8 }, () => new Transport({ kind: "unix", path: socket }));
  try {
    const cpu0 = cpuTicks(pid);
    for (let i = 0; i < WARM; i++) await t.unary(PATH, EMPTY);
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      await t.unary(PATH, EMPTY);
      lat.push((performance.now() - t0) * 1000);
    }
    lat.sort((a, b) => a - b);
    let count = 0;
    const until = performance.now() + THROUGHPUT_MS;
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < until) {
          await c.unary(PATH, EMPTY);
          count++;
        }
      }),
    );
    const calls = WARM + CALLS + count;
    const cpuMs = (cpuTicks(pid) - cpu0) * 10;
    return {
      cpuUsPerCall: (cpuMs * 1000) / calls,
      p50Us: lat[lat.length >> 1]!,
      p99Us: lat[Math.floor(lat.length * 0.99)]!,
      rps: count / (THROUGHPUT_MS / 1000),
    };
  } finally {
    t.close();
    for (const c of clients) c.close();
  }
}

for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < trees.length; i++) {
    const tree = trees[(i + r) % trees.length]!;
    const socket = join(tmpdir(), `minos-server-cpu-${process.pid}-${tree.name}.sock`);
    rmSync(socket, { force: true });
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "peers/api-server.ts"), tree.root, socket], { stdout: "pipe", stderr: "inherit" });
    try {
      const reader = proc.stdout.getReader();
      const first = await Promise.race([reader.read(), Bun.sleep(30_000).then(() => undefined)]);
      if (!first?.value || !new TextDecoder().decode(first.value).includes("ready")) throw new Error(`${tree.name}: server did not start`);
      const s = await measure(socket, proc.pid);
      samples.get(tree.name)!.push(s);
      console.error(
        `server-cpu: round ${r + 1} ${tree.name}: ${Object.entries(s)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(", ")}`,
      );
    } finally {
      proc.kill();
      await proc.exited;
      rmSync(socket, { force: true });
    }
  }
}

console.log(`\n${ROUNDS} rounds; median (min–max)\n`);
console.log(`| measure | ${trees.map((t) => t.name).join(" | ")} |`);
console.log(`|---|${trees.map(() => "---").join("|")}|`);
for (const k of ["cpuUsPerCall", "p50Us", "p99Us", "rps"] as const) {
  const cells = trees.map((t) => {
    const s = spread(samples.get(t.name)!.map((x) => x[k]));
    return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
  });
  console.log(`| ${k} | ${cells.join(" | ")} |`);
}
