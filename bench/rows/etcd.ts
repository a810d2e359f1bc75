// Row 10: etcd as minos runs it (a container of cluster.etcd.image, three
// control-plane sandboxes on a bridge, as test/sandbox/etcd/cluster.test.ts)
// against the same etcd binary run directly with the same flags, environment
// and certificates in the same three network namespaces (its own ports), each
// member in a session of its own as runc starts every container (on this kind
// of host the scheduler groups CPU time by session: docs/etcd.md, "Benchmark");
// the plain direct run in the bench's own session is shown beside it.
// Sequential put p50/p99 and concurrent put throughput through the leader,
// with the same client for all (test/helpers/etcd-bench.ts: minos's etcd
// client, one connection; etcdctl would time its own start per put), in
// interleaved rounds (ABBA); and the time from Bootstrap to a healthy
// three-member cluster. minos is not on the data path: the ratio should be ~1.0.
//   bun bench/rows/etcd.ts [--rounds N] [--quick]      this row alone
// MINOS_BENCH_ETCD_VARIANTS=pidns,mntns60,... adds direct clusters run one step
// closer to the container (experiments; docs/etcd.md records what they measured).
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bootSandbox, type Sandbox } from "../../scripts/sandbox.ts";
import { applyPatches, loadPatch } from "../../src/config/patch.ts";
import type { RunningRegistry } from "../../test/fixtures/registry/registry-server.ts";
import { etcdctlPath } from "../../test/helpers/etcd.ts";
import { ETCD_BINARY_IN_IMAGE } from "../../src/etcd/service.ts";
import {
  type DirectCluster,
  type DirectMember,
  etcdctlArgv,
  etcdsOn,
  leadBy,
  must,
  nodePatchYaml,
  putBench,
  type PutBench,
  type PutBenchSize,
  stageEtcdImage,
  startDirectCluster,
  startMirror,
  TestNet,
  until,
} from "../../test/helpers/etcd-cluster.ts";
import { rowCells, type RoundRow } from "../rounds.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MINOS = join(ROOT, "dist/minos");
const NET = "10.78.0";
const NAMES = ["a", "b", "c"] as const;
const IP = { a: `${NET}.11`, b: `${NET}.12`, c: `${NET}.13` };

/** Experiments: direct clusters run one step closer to the container (docs/etcd.md records what they measured). */
interface Variant {
  note: string;
  wrap?: (m: DirectMember) => string[];
  paths?: (m: DirectMember, dataName: string) => { binary: string; dataDir: string; secretsDir: string };
  readOutput?: boolean;
  cgroup?: (m: DirectMember) => string;
}
/** The container's mount namespace (its overlay root, /dev, /proc, the two bind mounts), entered by nsenter. */
const inContainerMounts = (uid?: number) => (m: DirectMember) => {
  const pid = hostPid(m.sb);
  if (!pid) throw new Error(`bench: no etcd container on node ${m.name}`);
  return ["--target", String(pid), "--mount", "--root", "--wd", ...(uid !== undefined ? [`--setuid=${uid}`, `--setgid=${uid}`] : [])];
};
/** Paths as the container sees them: the image's etcd, the PKI bind mount, data inside the data bind mount (the node's /var/lib/etcd). */
const containerPaths = (_m: DirectMember, dataName: string) => ({
  binary: ETCD_BINARY_IN_IMAGE,
  dataDir: `/var/lib/etcd/${dataName}`,
  secretsDir: "/system/secrets/etcd",
});
const VARIANTS: Record<string, Variant> = {
  // A PID namespace of its own (etcd is its PID 1, as under runc's init).
  pidns: { wrap: () => ["unshare", "--pid", "--fork", "--kill-child"], note: "own PID namespace" },
  // The plain direct run: every member in the bench's own session (the row's peer runs each in a session of its own).
  shared: { note: "in the bench's session" },
  // Its output read through a pipe, as the shim reads the container's.
  output: { readOutput: true, note: "output read from a pipe" },
  // Inside the container's mount namespace: the image's binary from the overlay root.
  mntns: { wrap: inContainerMounts(), paths: containerPaths, note: "in the container's mounts" },
  // ... and as the etcd user: uid/gid 60, no effective capabilities.
  mntns60: { wrap: inContainerMounts(60), paths: containerPaths, note: "in the container's mounts as uid 60" },
  // Own sessions (as the peer) and the container's own cgroup (v2: /system/etcd of the node's tree, under the sandbox's cgroup).
  cgroup: { wrap: () => ["setsid"], cgroup: (m) => join(m.sb.cgroupDir, "system/etcd"), note: "own sessions, in the container's cgroup" },
  // All of it at once: its own session and PID namespace, the container's mounts, uid 60.
  alike: {
    wrap: (m) => ["setsid", "unshare", "--pid", "--fork", "--kill-child", "nsenter", ...inContainerMounts(60)(m)],
    paths: containerPaths,
    note: "own session + PID namespace, the container's mounts, uid 60",
  },
};

export interface EtcdRound {
  minos: PutBench;
  direct: PutBench;
  variants: Record<string, PutBench>;
}

export interface EtcdBench {
  rounds: EtcdRound[];
  /** Bootstrap RPC sent → three voting members, every endpoint healthy. */
  bootstrapMs: number;
  /** The direct cluster: three members spawned → every endpoint healthy (static initial cluster, no joins). */
  directStartMs: number;
  /** What differs between the container's etcd and the direct one, as /proc shows them (node A). */
  probe: { minos: Record<string, string>; direct: Record<string, string> };
  size: PutBenchSize;
}

/** Host pids and comm names of every process of a node (its cgroup on the host's v2 tree). */
function nodeProcs(sb: Sandbox): { pid: number; comm: string }[] {
  const cgroup = sb.cgroupDir.split("/").at(-1)!;
  const out: { pid: number; comm: string }[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cgroup`, "utf8").includes(`/${cgroup}`)) out.push({ pid: Number(d), comm: readFileSync(`/proc/${d}/comm`, "utf8").trim() });
    } catch {}
  }
  return out;
}

const hostPid = (sb: Sandbox) => nodeProcs(sb).find((p) => p.comm === "etcd")?.pid;

/** utime + stime of a process (all its threads), in ms; 0 once it is gone. */
function cpuMs(pid: number): number {
  const u = usage(pid);
  return u.userMs + u.sysMs;
}

interface Usage {
  userMs: number;
  sysMs: number;
  /** Context switches over all threads: voluntary (waits) and involuntary (preempted). */
  vcs: number;
  nvcs: number;
}

function usage(pid: number): Usage {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    let vcs = 0;
    let nvcs = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
        vcs += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
        nvcs += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
      } catch {}
    }
    // fields 14, 15 (utime, stime) in clock ticks (USER_HZ 100)
    return { userMs: Number(f[11]) * 10, sysMs: Number(f[12]) * 10, vcs, nvcs };
  } catch {
    return { userMs: 0, sysMs: 0, vcs: 0, nvcs: 0 };
  }
}

function dataDirOf(pid: number): string {
  return /--data-dir=(\S+?)\0/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1] ?? "/";
}

/** The process attributes the earlier experiments compared, plus the ones still untested (seccomp, no_new_privs, namespaces). */
function probe(pid: number): Record<string, string> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (k: string) => new RegExp(`^${k}:\\s+(.*)$`, "m").exec(status)?.[1]?.trim() ?? "?";
  const read = (f: string) => {
    try {
      return readFileSync(`/proc/${pid}/${f}`, "utf8").trim().replace(/\n/g, " ");
    } catch (e) {
      return `(${(e as Error).message})`;
    }
  };
  const limits = read("limits")
    .split(/\s{2,}|\s(?=Max )/)
    .join(" ");
  return {
    Seccomp: field("Seccomp"),
    NoNewPrivs: field("NoNewPrivs"),
    Cpus_allowed_list: field("Cpus_allowed_list"),
    Uid: field("Uid"),
    CapEff: field("CapEff"),
    Threads: field("Threads"),
    autogroup: read("autogroup"),
    timerslack_ns: read("timerslack_ns"),
    oom_score_adj: read("oom_score_adj"),
    cgroup: read("cgroup"),
    pidns: readlinkSync(`/proc/${pid}/ns/pid`),
    mntns: readlinkSync(`/proc/${pid}/ns/mnt`),
    nofile: /Max open files\s+(\d+)/.exec(limits)?.[1] ?? "?",
    // The flags without the member's own name, ports and paths, which differ by construction.
    flags: read("cmdline")
      .split("\0")
      .slice(1)
      .map((a) => a.replace(/=.*/, ""))
      .sort()
      .join(" "),
    env: read("environ").split("\0").sort().join(" "),
    dataFs: (() => {
      const st = Bun.spawnSync(["stat", "-f", "-c", "%T", `/proc/${pid}/root${dataDirOf(pid)}`], { stdout: "pipe" })
        .stdout.toString()
        .trim();
      return st || "?";
    })(),
  };
}

export async function etcdBench(rounds: number, quick: boolean, log: (m: string) => void): Promise<EtcdBench> {
  for (const f of [MINOS, join(ROOT, "dist/rootfs")]) if (!existsSync(f)) throw new Error(`bench: ${f} missing: run \`bun run build\` first`);
  const size: PutBenchSize = quick ? { sequential: 200, workers: 16, perWorker: 40 } : { sequential: 500, workers: 16, perWorker: 200 };
  // "shared" always: it shows what the session split alone costs on a host that schedules by session.
  const variants = ["shared", ...(process.env.MINOS_BENCH_ETCD_VARIANTS ?? "").split(",").filter((v) => v && v !== "shared")];
  for (const v of variants) if (!VARIANTS[v]) throw new Error(`bench: unknown etcd variant ${v} (${Object.keys(VARIANTS).join(", ")})`);
  const etcdctl = etcdctlPath();
  const work = mkdtempSync(join(tmpdir(), "minos-bench-etcd-"));
  const net = new TestNet(`etcdb${process.pid}`, NET, work);
  const nodes: Partial<Record<(typeof NAMES)[number], Sandbox>> = {};
  const clusters: DirectCluster[] = [];
  let staging: RunningRegistry | undefined;
  let mirror: ReturnType<typeof Bun.spawn> | undefined;
  try {
    staging = (await stageEtcdImage()).staging;
    await must(net.run([MINOS, "ctl", "gen", "config", "etcdb", `https://${IP.a}:6443`, "--output-dir", work]), "gen config");
    const cp = readFileSync(join(work, "controlplane.yaml"), "utf8");
    await net.create();
    mirror = await startMirror(net, staging, work);
    await Promise.all(
      NAMES.map(async (n) => {
        const sb = await bootSandbox({ config: applyPatches(cp, [loadPatch(nodePatchYaml(NET, `node-${n}`, IP[n]))]), containers: true });
        nodes[n] = sb;
        await net.attach(sb, `vb${n}${process.pid}`.slice(0, 15));
      }),
    );
    const sbs = NAMES.map((n) => nodes[n]!);
    await Promise.all(sbs.map((sb) => sb.waitForLine(/service etcd: Waiting: waiting for Bootstrap/, 120_000)));
    const secrets = join(nodes.a!.rootfs, "system/secrets/etcd");
    const ips = NAMES.map((n) => IP[n]);
    const healthy = async (port: number) =>
      (
        await net.inNs([
          ...etcdctlArgv(
            etcdctl,
            secrets,
            ips.map((ip) => `${ip}:${port}`),
          ),
          "endpoint",
          "health",
        ])
      ).code === 0
        ? true
        : undefined;

    // Bootstrap → three voting members, all healthy.
    const t0 = performance.now();
    await must(net.run([MINOS, "ctl", "-e", `unix:${nodes.a!.socketPath}`, "bootstrap"]), "bootstrap");
    await until("three voting members", 120_000, async () => {
      const r = await net.run([MINOS, "ctl", "-e", `unix:${nodes.a!.socketPath}`, "etcd", "members", "-o", "json"]);
      const m = r.code === 0 ? (JSON.parse(r.out).members as { is_learner: boolean }[]) : [];
      return m.length === 3 && m.every((x) => !x.is_learner) ? true : undefined;
    });
    await until("three healthy endpoints", 60_000, () => healthy(2379));
    const bootstrapMs = performance.now() - t0;
    log(`etcd: Bootstrap → three healthy members in ${bootstrapMs.toFixed(0)} ms`);

    const members = NAMES.map((n) => ({ name: n, ip: IP[n], sb: nodes[n]! }));
    // Each member a session leader, as runc makes every container's process: on a host whose CPU controller is not on
    // cgroup v2 (this one: v1, every task in its root) the kernel's autogroup scheduler groups CPU time by session.
    const direct = await startDirectCluster(members, { clientPort: 3379, peerPort: 3380, wrap: () => ["setsid"] });
    clusters.push(direct);
    await until("the direct cluster healthy", 60_000, () => healthy(3379));
    const directStartMs = performance.now() - direct.startedAt;
    const ports: Record<string, number> = { minos: 2379, direct: 3379 };
    for (const [i, v] of variants.entries()) {
      const client = 4379 + i * 1000;
      const x = VARIANTS[v]!;
      clusters.push(
        await startDirectCluster(members, {
          clientPort: client,
          peerPort: client + 1,
          dataName: `etcd-${v}`,
          ...(x.wrap ? { wrap: x.wrap } : {}),
          ...(x.paths ? { paths: x.paths } : {}),
          ...(x.cgroup ? { cgroup: x.cgroup } : {}),
          ...(x.readOutput ? { readOutput: true } : { stderrFile: (m: DirectMember) => join(work, `${v}-${m.name}.log`) }),
        }),
      );
      ports[v] = client;
      await until(`the ${v} cluster healthy`, 60_000, () => healthy(client)).catch((e) => {
        const tail = (n: string) => (existsSync(join(work, `${v}-${n}.log`)) ? readFileSync(join(work, `${v}-${n}.log`), "utf8").slice(-1500) : "(no log)");
        throw new Error(`${(e as Error).message}\n${NAMES.map((n) => `${n}: ${tail(n)}`).join("\n")}`);
      });
    }
    for (const [side, port] of Object.entries(ports))
      await until(`A leads the ${side} cluster`, 30_000, () => leadBy(net, etcdctl, secrets, ips, IP.a, port).then(() => true));

    const containerPid = hostPid(nodes.a!);
    log(
      `etcd: node A's init is in ${readFileSync(`/proc/${await nodes.a!.initPid()}/autogroup`, "utf8").trim()}; this bench in ${readFileSync("/proc/self/autogroup", "utf8").trim()}`,
    );
    const probed = {
      minos: containerPid ? probe(containerPid) : { error: "no etcd process found in node A's cgroup" },
      direct: probe(direct.procs[0]!.pid),
    };
    for (const [k, v] of Object.entries(probed.minos))
      log(`etcd: ${v === probed.direct[k] ? "same" : "differs"}: ${k}: container ${v}${v === probed.direct[k] ? "" : ` | direct ${probed.direct[k]}`}`);

    const sbNetns = await Promise.all(sbs.map(async (sb) => readlinkSync(`/proc/${await sb.initPid()}/ns/net`)));
    const sides = Object.keys(ports);
    const out: EtcdRound[] = [];
    for (let r = 0; r < rounds; r++) {
      // ABBA: the order of the sides is reversed every other round.
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      const got: Record<string, PutBench> = {};
      const usages: Record<string, string> = {};
      const cpu: Record<string, { lines: number; etcdMs: number; nodeOthersMs: number; busiest: string }> = {};
      for (const side of order) {
        // CPU spent during the side's run: the three etcd members, and every other process of the nodes (init, containerd, shims).
        const etcds = side === "minos" ? sbs.map(hostPid).filter((p): p is number => p !== undefined) : etcdsOn(sbNetns, ports[side]!);
        const u0 = etcds.map(usage);
        const others = sbs.flatMap(nodeProcs).filter((p) => p.comm !== "etcd");
        const before = { etcd: etcds.map(cpuMs), others: others.map((p) => cpuMs(p.pid)), lines: nodes.a!.lines.length };
        got[side] = await putBench(net, `https://${IP.a}:${ports[side]}`, secrets, `/bench/${side}/${r}/`, size);
        const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
        const u1 = etcds.map(usage);
        const d = (k: keyof Usage) => u1.map((u, i) => u[k] - u0[i]![k]);
        const total = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
        const sys = d("sysMs");
        usages[side] = `${d("userMs")
          .map((x, i) => `${x}+${sys[i]}`)
          .join(" ")} ms, ${total(d("vcs"))}/${total(d("nvcs"))} cs`;
        cpu[side] = {
          lines: nodes.a!.lines.slice(before.lines).length,
          etcdMs: sum(etcds.map(cpuMs)) - sum(before.etcd),
          nodeOthersMs: sum(others.map((p) => cpuMs(p.pid))) - sum(before.others),
          busiest: others
            .map((p, i) => ({ comm: p.comm, ms: cpuMs(p.pid) - before.others[i]! }))
            .sort((a, b) => b.ms - a.ms)
            .slice(0, 3)
            .map((x) => `${x.comm} ${x.ms.toFixed(0)}`)
            .join(", "),
        };
      }
      log(
        `etcd round ${r + 1} members' CPU (user+sys per member; context switches voluntary/involuntary): ${Object.entries(usages)
          .map(([k, v]) => `${k} ${v}`)
          .join("; ")}`,
      );
      log(
        `etcd round ${r + 1} CPU ms during each side (etcd members / other node processes: busiest): ${Object.entries(cpu)
          .map(([k, c]) => `${k} ${c.etcdMs.toFixed(0)} / ${c.nodeOthersMs.toFixed(0)}: ${c.busiest} (${c.lines} console lines on A)`)
          .join("; ")}`,
      );
      out.push({ minos: got.minos!, direct: got.direct!, variants: Object.fromEntries(variants.map((v) => [v, got[v]!])) });
      const f = (b: PutBench) => `p50 ${b.p50.toFixed(2)} p99 ${b.p99.toFixed(2)} ms ${b.throughput.toFixed(0)}/s`;
      log(
        `etcd round ${r + 1}/${rounds} (${order.join(",")}): ${sides.map((s) => `${s} ${f(got[s]!)}`).join("; ")}; throughput ratio ${(got.minos!.throughput / got.direct!.throughput).toFixed(2)}; load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
    return { rounds: out, bootstrapMs, directStartMs, probe: probed, size };
  } finally {
    for (const c of clusters) await c.stop();
    await Promise.all(Object.values(nodes).map((sb) => sb.cleanup()));
    mirror?.kill("SIGKILL");
    await mirror?.exited;
    await staging?.stop();
    await net.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

export function etcdRows(b: EtcdBench): RoundRow[] {
  const m = (f: (x: PutBench) => number) => b.rounds.map((r) => f(r.minos));
  const d = (f: (x: PutBench) => number) => b.rounds.map((r) => f(r.direct));
  const v = (f: (x: PutBench) => number) =>
    Object.keys(b.rounds[0]?.variants ?? {}).map((name) => ({ name: `direct, ${VARIANTS[name]!.note}`, values: b.rounds.map((r) => f(r.variants[name]!)) }));
  const peer = (f: (x: PutBench) => number) => ({ name: "etcd run directly (own sessions)", values: d(f) });
  return [
    {
      name: "10 etcd put p50 (3 members, via the leader, 1 client)",
      unit: "ms",
      digits: 2,
      minos: m((x) => x.p50),
      peer: peer((x) => x.p50),
      others: v((x) => x.p50),
    },
    {
      name: `10 etcd put p99 (${b.size.sequential} puts/round)`,
      unit: "ms",
      digits: 2,
      minos: m((x) => x.p99),
      peer: peer((x) => x.p99),
      others: v((x) => x.p99),
    },
    {
      name: `10 etcd put throughput, ${b.size.workers} clients`,
      unit: "puts/s",
      digits: 0,
      minos: m((x) => x.throughput),
      peer: peer((x) => x.throughput),
      others: v((x) => x.throughput),
      target: { of: "ratio", op: ">=", value: 0.9, text: "≥ 0.9× direct" },
    },
    {
      name: "10 etcd Bootstrap → three healthy members (learner joins)",
      unit: "ms",
      digits: 0,
      minos: [b.bootstrapMs],
      others: [{ name: "direct start (static initial cluster) → healthy", values: [b.directStartMs] }],
    },
  ];
}

if (import.meta.main) {
  const roundsArg = process.argv.indexOf("--rounds");
  const quick = process.argv.includes("--quick");
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : quick ? 2 : 5;
  const load0 = loadavg()[0]!;
  const b = await etcdBench(rounds, quick, (msg) => console.error(`bench: ${msg}`));
  console.log(
    `\netcd row — ${cpus().length}× ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${rounds} rounds; load average ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
  );
  for (const r of etcdRows(b)) console.log(`| ${rowCells(r).join(" | ")} |`);
  console.log(JSON.stringify(b));
}
