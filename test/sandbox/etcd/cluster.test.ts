// A three-node etcd cluster run by minos: three control-plane sandboxes (each
// its own network namespace) joined by veth pairs to a bridge inside a network
// namespace this test creates, static 10.77.x addresses only inside those
// namespaces; a fourth control plane (D, a cluster of its own) that recovers
// from A's snapshot, and a worker sandbox for the worker refusal. etcd runs
// as Talos runs it: a container of cluster.etcd.image, here an image this test
// builds from Debian's etcd-server/etcd-client (test/helpers/etcd-image.ts)
// and pushes to a real Distribution registry (Debian's docker-registry) that
// serves it on the bridge (10.77.0.1) as the plain-HTTP mirror of the image's
// registry (machine.registries.mirrors). Debian's etcd-client's etcdctl drives
// the cluster from the test namespace with the admin certificate node A issued.
//
// Sandboxes, not QEMU VMs: a sandbox started for containers (a cgroup
// namespace, DESIGN fact 9) runs the node's own containerd and runc exactly as
// a VM would, in a fraction of the time; each still has its own network stack.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { bootSandbox, type Sandbox } from "../../../scripts/sandbox.ts";
import { applyPatches, loadPatch } from "../../../src/config/patch.ts";
import { snapshotProblem } from "../../../src/etcd/snapshot.ts";
import type { RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { etcdctlPath } from "../../helpers/etcd.ts";
import {
  ETCD_TEST_IMAGE,
  etcdctlArgv,
  leadBy,
  must,
  nodePatchYaml,
  putBench,
  type PutBench,
  type Ran,
  stageEtcdImage,
  startDirectCluster,
  startMirror,
  TestNet,
  until,
} from "../../helpers/etcd-cluster.ts";

const NS = `etcdt${process.pid}`;
const NET = "10.77.0";
const IP = { a: `${NET}.11`, b: `${NET}.12`, c: `${NET}.13`, d: `${NET}.14` };
let work: string;
let talosconfig: string;
const nodes: Record<string, Sandbox> = {};
let etcdctl: string;
/** Boots a node (again: `tag` names its veth apart from the earlier one's) and links its eth0 to the bridge. */
let boot: (name: "a" | "b" | "c" | "d", tag?: string) => Promise<void>;
/** The registry the image is pushed into from the host; the one on the bridge serves its storage. */
let staging: RunningRegistry | undefined;
let bridgeRegistry: ReturnType<typeof Bun.spawn> | undefined;
const IMAGE = ETCD_TEST_IMAGE;
/** The test network (shared with the etcd bench row: test/helpers/etcd-cluster.ts). */
let net: TestNet | undefined;
const run = (cmd: string[], opts: { stdin?: string } = {}): Promise<Ran> => net!.run(cmd, opts);
const inNs = (cmd: string[], opts: { stdin?: string } = {}): Promise<Ran> => net!.inNs(cmd, opts);

/** minosctl against a node's own socket (full access). */
const ctl = (sb: Sandbox, ...args: string[]) => run(["dist/minos", "ctl", "-e", `unix:${sb.socketPath}`, ...args]);

/** etcdctl in the test namespace with node A's admin certificate (endpoints: addresses, port 2379, or address:port, comma-separated). */
function ctlEtcd(endpoints: string, ...args: string[]) {
  return inNs([...etcdctlArgv(etcdctl, join(nodes.a!.rootfs, "system/secrets/etcd"), endpoints.split(",")), ...args]);
}

async function members(sb: Sandbox): Promise<Array<{ hostname: string; is_learner: boolean; id: number | string }>> {
  const r = await ctl(sb, "etcd", "members", "-o", "json");
  if (r.code !== 0) throw new Error(r.err);
  return JSON.parse(r.out).members;
}

/** The host pid of a node's etcd: an "etcd" process in the node's cgroup (the container has a PID namespace of its own). */
function etcdPid(sb: Sandbox): number | undefined {
  const cgroup = sb.cgroupDir.split("/").at(-1)!;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .find((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "etcd" && readFileSync(`/proc/${p}/cgroup`, "utf8").includes(`/${cgroup}/`);
      } catch {
        return false;
      }
    });
}

/** The mirror on the bridge (10.77.0.1), serving the staging registry's storage. */
async function startBridgeRegistry(): Promise<void> {
  bridgeRegistry = await startMirror(net!, staging!, work);
}

beforeAll(async () => {
  if (!existsSync("dist/minos") || !existsSync("dist/rootfs")) throw new Error("run `bun run build` first (dist/minos, dist/rootfs)");
  if (!Bun.which("ldd")) throw new Error("needs ldd (libc-bin) to build the etcd image");
  etcdctl = etcdctlPath();
  work = mkdtempSync(join(tmpdir(), "etcd-cluster-"));
  net = new TestNet(NS, NET, work);
  const staged = await stageEtcdImage();
  staging = staged.staging;
  console.log(`etcd image: ${staged.layerBytes} bytes gzip'd; libraries from ldd: ${staged.libraries.join(", ") || "none (static)"}`);
  talosconfig = join(work, "talosconfig");
  const gen = await run(["dist/minos", "ctl", "gen", "config", "etcdt", `https://${IP.a}:6443`, "--output-dir", work]);
  if (gen.code !== 0) throw new Error(`gen config: ${gen.err}`);
  const cp = readFileSync(join(work, "controlplane.yaml"), "utf8");
  const worker = readFileSync(join(work, "worker.yaml"), "utf8");
  const patch = (host: string, ip?: string) => loadPatch(nodePatchYaml(NET, host, ip));
  await net.create();
  const echo = process.env.MINOS_TEST_ECHO ? true : undefined;
  // D is a control plane of a cluster of its own (its endpoint names only itself): the fresh node that recovers from A's snapshot.
  const alone = loadPatch(`cluster:\n  controlPlane:\n    endpoint: https://${IP.d}:6443\n`);
  boot = async (name: "a" | "b" | "c" | "d", tag: string = name) => {
    const sb = await bootSandbox({
      config: applyPatches(cp, [patch(`node-${name}`, IP[name]), ...(name === "d" ? [alone] : [])]),
      containers: true,
      echo,
    });
    nodes[name] = sb;
    // eth0 appears in the node's namespace while its network phase waits for it (up to 10 s).
    await net!.attach(sb, `v${tag}${process.pid}`.slice(0, 15));
  };
  await Promise.all([
    boot("a"),
    boot("b"),
    boot("c"),
    boot("d"),
    bootSandbox({ config: applyPatches(worker, [patch("node-w")]), echo }).then((sb) => (nodes.w = sb)),
  ]);
  await Promise.all(Object.values(nodes).map((n) => n.waitForLine(/all services healthy/, 90_000)));
}, 150_000);

afterAll(async () => {
  await Promise.all(Object.values(nodes).map((n) => n.cleanup()));
  bridgeRegistry?.kill("SIGKILL");
  await bridgeRegistry?.exited;
  await staging?.stop();
  await net?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("etcd on three control-plane sandboxes", () => {
  test("while the image cannot be pulled etcd is Waiting with the registry's error and retries; then it waits for Bootstrap", async () => {
    for (const n of ["a", "b", "c"] as const)
      await nodes[n]!.waitForLine(/service etcd: Waiting: image registry\.invalid\/minos-test\/etcd:v3\.4\.23: .*10\.77\.0\.1:5000.*; retry in \d+ ms/, 30_000);
    // Retried: a second attempt's message, with a longer delay.
    await nodes.a!.waitForLine(/service etcd: Waiting: image registry\.invalid\/.*; retry in 2000 ms/, 30_000);
    expect(nodes.a!.lines.some((l) => /etcd: added as learner|bootstrapping/.test(l))).toBe(false);
    await startBridgeRegistry();
  }, 60_000);

  test("before Bootstrap every control plane waits (with the reason), and none starts a cluster of its own", async () => {
    for (const n of ["a", "b", "c"] as const) {
      await nodes[n]!.waitForLine(/service etcd: Waiting: waiting for Bootstrap or for a member to join through/, 30_000);
      expect(nodes[n]!.lines.some((l) => /bootstrapping a one-member cluster/.test(l))).toBe(false);
    }
    const r = await ctl(nodes.a!, "etcd", "members");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/failed precondition: etcd is not running on this node \(Waiting/);
  }, 60_000);

  test("Bootstrap on a worker: FAILED_PRECONDITION with the reason", async () => {
    const r = await ctl(nodes.w!, "bootstrap");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/failed precondition: etcd: this node is a worker/);
    expect(nodes.w!.lines.some((l) => /phase etcd: .*skipped \(machine\.type worker/.test(l) || /etcd: skipped \(machine.type worker/.test(l))).toBe(true);
  });

  test("Bootstrap on A: B and C join by themselves as learners and are promoted: three voting members", async () => {
    const t0 = Date.now();
    const b = await ctl(nodes.a!, "bootstrap");
    expect(b.err).toBe("");
    expect(b.code).toBe(0);
    const list = await until("three voting members", 90_000, async () => {
      const m = await members(nodes.a!);
      return m.length === 3 && m.every((x) => !x.is_learner) ? m : undefined;
    });
    console.log(`bootstrap to three voting members: ${Date.now() - t0} ms`);
    expect(list.map((m) => m.hostname).sort()).toEqual(["node-a", "node-b", "node-c"]);
    expect(nodes.b!.lines.some((l) => /etcd: added as learner/.test(l))).toBe(true);
    expect(nodes.c!.lines.some((l) => /etcd: promoted/.test(l))).toBe(true);
    // Exactly one node ever bootstrapped.
    expect([nodes.b!, nodes.c!].some((n) => n.lines.some((l) => /bootstrapping a one-member cluster/.test(l)))).toBe(false);
  }, 120_000);

  test("etcd runs as Talos's container: the image's etcd, uid 60, no capabilities, its own PID namespace, the node's network, data rw and PKI ro", async () => {
    const sb = nodes.b!;
    const pid = etcdPid(sb)!;
    expect(pid).toBeDefined();
    const init = await sb.initPid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(status).toMatch(/^Uid:\s+60\s+60\s+60\s+60$/m);
    expect(status).toMatch(/^Gid:\s+60\s+60\s+60\s+60$/m);
    expect(status).toMatch(/^CapEff:\s+0{16}$/m);
    expect(status).toMatch(/^CapBnd:\s+0{16}$/m);
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(readlinkSync(`/proc/${init}/ns/net`));
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync(`/proc/${init}/ns/pid`));
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe("/usr/local/bin/etcd");
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toMatch(/\/system\/etcd\n/);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toContain("ETCD_CIPHER_SUITES=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,");
    // mountinfo fields: 4 = mount point, 5 = per-mount options.
    const mounts = new Map(
      readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .map((f) => [f[4]!, f[5]!.split(",")] as const),
    );
    expect(mounts.get("/var/lib/etcd")).toContain("rw");
    expect(mounts.get("/system/secrets/etcd")).toContain("ro");
    const imgs = await ctl(sb, "image", "list", "--namespace", "system");
    expect(imgs.out).toContain(IMAGE);
    // The data it wrote belongs to the etcd user (seen through init's root: the node's /var is its own mount).
    const data = `/proc/${init}/root/var/lib/etcd`;
    const st = Bun.spawnSync(["stat", "-c", "%u:%g %a", data, `${data}/member`], { stdout: "pipe" });
    expect(st.stdout.toString().trim().split("\n")).toEqual(["60:60 700", "60:60 700"]);
  });

  test("Bootstrap again (on A, and on B which has data): FAILED_PRECONDITION, nothing changed", async () => {
    const again = await ctl(nodes.a!, "bootstrap");
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/failed precondition: etcd (is already bootstrapped|data directory .* is not empty)/);
    const onB = await ctl(nodes.b!, "bootstrap");
    expect(onB.code).toBe(1);
    expect(onB.err).toMatch(/failed precondition: etcd data directory \/var\/lib\/etcd is not empty/);
    expect((await members(nodes.a!)).length).toBe(3);
  });

  test("etcdctl writes 1,000 keys through A; B and C read every one", async () => {
    for (let batch = 0; batch < 10; batch++) {
      // 100 puts per transaction (etcd's default limit is 128 operations).
      const ops = Array.from({ length: 100 }, (_, i) => `put /k/${String(batch * 100 + i).padStart(4, "0")} v${batch * 100 + i}`).join("\n");
      const t = await inNsTxn(ops);
      expect(t).toMatch(/SUCCESS/);
    }
    for (const ip of [IP.b, IP.c]) {
      const count = JSON.parse(await must(ctlEtcd(ip, "get", "/k/", "--prefix", "--keys-only", "-w", "json", "--consistency=s"), "count")).count;
      expect(count).toBe(1000);
      expect((await must(ctlEtcd(ip, "get", "/k/0777", "--print-value-only"), "get")).trim()).toBe("v777");
    }
  }, 60_000);

  test("benchmark: put p50/p99 and throughput, minos-run cluster vs the same etcd run directly with the same flags on the same network", async () => {
    // The direct cluster: the same binary, flags and certificates, started by the test in each node's network namespace on ports 3379/3380,
    // each member a session leader as runc makes the container's (this host's scheduler groups CPU time by session: docs/etcd.md).
    const abc = (["a", "b", "c"] as const).map((n) => ({ name: n, ip: IP[n], sb: nodes[n]! }));
    const direct = await startDirectCluster(abc, { clientPort: 3379, peerPort: 3380, wrap: () => ["setsid"] });
    try {
      const secrets = join(nodes.a!.rootfs, "system/secrets/etcd");
      const size = { sequential: 300, workers: 16, perWorker: 50 };
      await until("the direct cluster is up", 30_000, async () => ((await ctlEtcd(`${IP.a}:3379`, "endpoint", "health")).code === 0 ? true : undefined));
      // Both clusters led by A (a put through a follower costs a hop to the leader).
      const ips = [IP.a, IP.b, IP.c];
      await until("A leads the direct cluster", 20_000, async () => await leadBy(net!, etcdctl, secrets, ips, IP.a, 3379).then(() => true));
      await until("A leads the minos-run cluster", 20_000, async () => await leadBy(net!, etcdctl, secrets, ips, IP.a, 2379).then(() => true));
      // Interleaved rounds (the machine is shared), ABBA: the median of three for each.
      const runs: { minos: PutBench[]; direct: PutBench[] } = { minos: [], direct: [] };
      for (let round = 0; round < 3; round++) {
        const m = () => putBench(net!, `https://${IP.a}:2379`, secrets, `/bench/minos/${round}/`, size);
        const d = () => putBench(net!, `https://${IP.a}:3379`, secrets, `/bench/direct/${round}/`, size);
        if (round % 2 === 0) {
          runs.minos.push(await m());
          runs.direct.push(await d());
        } else {
          runs.direct.push(await d());
          runs.minos.push(await m());
        }
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const mid = (rs: PutBench[]): PutBench => ({
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        throughput: median(rs.map((r) => r.throughput)),
      });
      const viaMinos = mid(runs.minos);
      const directly = mid(runs.direct);
      const f = (x: number) => x.toFixed(2);
      console.log(
        `etcd put, 3 members, through A — minos-run: p50 ${f(viaMinos.p50)} ms, p99 ${f(viaMinos.p99)} ms, ${viaMinos.throughput.toFixed(0)} puts/s; ` +
          `direct: p50 ${f(directly.p50)} ms, p99 ${f(directly.p99)} ms, ${directly.throughput.toFixed(0)} puts/s; ` +
          `ratio p50 ${(viaMinos.p50 / directly.p50).toFixed(2)}, throughput ${(viaMinos.throughput / directly.throughput).toFixed(2)}`,
      );
      for (const r of [viaMinos, directly]) {
        expect(r.p50).toBeGreaterThan(0);
        expect(r.throughput).toBeGreaterThan(0);
      }
    } finally {
      await direct.stop();
    }
  }, 90_000);

  test("kill -9 of B's etcd container: the supervisor restarts it and it has every key", async () => {
    const pid = etcdPid(nodes.b!);
    expect(pid).toBeDefined();
    const before = nodes.b!.lines.length;
    process.kill(pid!, "SIGKILL");
    await nodes.b!.waitForLine(/service etcd: Waiting: exited: signal 9 \(SIGKILL\)/, 10_000, before);
    await nodes.b!.waitForLine(/service etcd: Running: started/, 20_000, before);
    const newPid = await until("a new etcd process", 10_000, async () => etcdPid(nodes.b!));
    expect(newPid).not.toBe(pid);
    const count = await until("B serves every key again", 30_000, async () => {
      const r = await ctlEtcd(IP.b, "get", "/k/", "--prefix", "--keys-only", "-w", "json", "--consistency=s");
      return r.code === 0 ? JSON.parse(r.out).count : undefined;
    });
    expect(count).toBe(1000);
  }, 60_000);

  test("a new address on B (as a DHCP lease would bring): B reissues its peer and server certificates and its running etcd serves the new SAN", async () => {
    const extra = `${NET}.22`;
    const init = await nodes.b!.initPid();
    const before = nodes.b!.lines.length;
    await must(run(["nsenter", "-t", String(init), "-n", "ip", "addr", "add", `${extra}/24`, "dev", "eth0"]), "address add");
    try {
      await nodes.b!.waitForLine(
        new RegExp(`etcd: node addresses changed \\(.*-> [0-9.,]*${extra.replace(/\./g, "\\.")}.*\\): peer and server certificates reissued`),
        30_000,
        before,
      );
      const health = await until("etcd on the new address with a certificate that names it", 10_000, async () => {
        const r = await ctlEtcd(extra, "endpoint", "health");
        return r.code === 0 ? r.err + r.out : undefined;
      });
      expect(health).toMatch(/is healthy/);
      const s = join(nodes.b!.rootfs, "system/secrets/etcd");
      const sans = new X509Certificate(readFileSync(`${s}/server.crt`)).subjectAltName ?? "";
      expect(sans).toContain(`IP Address:${extra}`);
      expect(sans).toContain(`IP Address:${IP.b}`);
    } finally {
      await run(["nsenter", "-t", String(init), "-n", "ip", "addr", "del", `${extra}/24`, "dev", "eth0"]);
    }
  }, 60_000);

  test("minosctl -e A -n A,B,C etcd members: one endpoint, three nodes' answers, three members each", async () => {
    const r = await inNs(["dist/minos", "ctl", "--talosconfig", talosconfig, "-e", IP.a, "-n", `${IP.a},${IP.b},${IP.c}`, "etcd", "members"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rows = r.out.trim().split("\n").slice(1);
    expect(rows.length).toBe(9);
    for (const ip of [IP.a, IP.b, IP.c]) expect(rows.filter((l) => l.startsWith(ip)).length).toBe(3);
    expect(rows.every((l) => / node-[abc] /.test(l) && /false$/.test(l))).toBe(true);
  }, 30_000);

  test("EtcdSnapshot from A: a whole, checksummed database", async () => {
    const file = join(work, "snap.db");
    const r = await ctl(nodes.a!, "etcd", "snapshot", file);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/etcd snapshot saved to/);
    const data = readFileSync(file);
    expect(data.length).toBeGreaterThan(20_000);
    expect(snapshotProblem(data)).toBeUndefined();
    const corrupt = Buffer.from(data);
    corrupt[1000] = corrupt[1000]! ^ 0xff;
    expect(snapshotProblem(corrupt)).toMatch(/integrity check failed/);
    // etcd's own tool agrees it is a snapshot holding the keys.
    const st = JSON.parse(await must(run([etcdctl, "snapshot", "status", file, "-w", "json"]), "snapshot status"));
    expect(st.totalKey).toBeGreaterThanOrEqual(1000);
  }, 30_000);

  test("os:etcd:backup over mutual TLS: EtcdSnapshot works, nothing else does", async () => {
    await must(
      run(["sh", "-c", `cd ${work} && ${process.cwd()}/dist/minos ctl gen client --role os:etcd:backup --from-config controlplane.yaml`]),
      "gen client",
    );
    const cfg = parse(readFileSync(talosconfig, "utf8")) as { context: string; contexts: Record<string, { crt: string; key: string }> };
    const context = cfg.contexts[cfg.context]!;
    context.crt = readFileSync(join(work, "etcd:backup.crt")).toString("base64");
    context.key = readFileSync(join(work, "etcd:backup.key")).toString("base64");
    const backupConfig = join(work, "backup-talosconfig");
    writeFileSync(backupConfig, stringify(cfg));
    const as = (...args: string[]) => inNs(["dist/minos", "ctl", "--talosconfig", backupConfig, "-e", IP.a, ...args]);
    const snap = await as("etcd", "snapshot", join(work, "backup.db"));
    expect(snap.err).toBe("");
    expect(snapshotProblem(readFileSync(join(work, "backup.db")))).toBeUndefined();
    for (const args of [["version"], ["etcd", "members"], ["etcd", "leave"], ["bootstrap"]]) {
      const r = await as(...args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/permission denied: .*role os:etcd:backup is not allowed/);
    }
    expect((await members(nodes.a!)).length).toBe(3);
  }, 30_000);

  test("a fresh node recovers from A's snapshot (sent through A with -n D): a corrupt one is refused first, nothing stored; then every key is back", async () => {
    const d = nodes.d!;
    const good = join(work, "snap.db");
    const bad = join(work, "corrupt.db");
    const data = readFileSync(good);
    const corrupt = Buffer.from(data);
    corrupt[2000] = corrupt[2000]! ^ 0xff;
    writeFileSync(bad, corrupt);
    const refused = await ctl(d, "bootstrap", "--recover-from", bad);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/invalid argument: EtcdRecover: snapshot integrity check failed.*nothing stored/);
    expect(existsSync(join(d.rootfs, "var/lib/etcd.snapshot"))).toBe(false);
    expect(existsSync(join(d.rootfs, "var/lib/etcd/member"))).toBe(false);
    // Through A's endpoint, forwarded to D (-n): the upload is a client stream, collected by A and sent on to D whole.
    const ok = await inNs(["dist/minos", "ctl", "--talosconfig", talosconfig, "-e", IP.a, "-n", IP.d, "bootstrap", "--recover-from", good]);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    const count = await until("D serves the recovered keys", 30_000, async () => {
      const r = await ctlEtcd(IP.d, "get", "/k/", "--prefix", "--keys-only", "-w", "json");
      return r.code === 0 ? JSON.parse(r.out).count : undefined;
    });
    expect(count).toBe(1000);
    expect((await members(d)).map((m) => m.hostname)).toEqual(["node-d"]);
    // etcd's own restore ran in a one-shot container of cluster.etcd.image (the node has no etcdctl).
    expect(d.lines.some((l) => l.includes(`etcd: snapshot restored into /var/lib/etcd by /usr/local/bin/etcdctl of ${IMAGE}`))).toBe(true);
  }, 60_000);

  test("status, alarms and defrag answer on A", async () => {
    const s = await ctl(nodes.a!, "etcd", "status");
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/MEMBER/);
    const a = await ctl(nodes.a!, "etcd", "alarm", "list");
    expect(a.out).toBe("no alarms\n");
    const d = await ctl(nodes.a!, "etcd", "defrag");
    expect(d.code).toBe(0);
  }, 30_000);

  test("EtcdLeaveCluster on C: two members left, C's etcd stopped and its data wiped", async () => {
    const r = await ctl(nodes.c!, "etcd", "leave");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const m = await until("two members", 20_000, async () => {
      const x = await members(nodes.a!);
      return x.length === 2 ? x : undefined;
    });
    expect(m.map((x) => x.hostname).sort()).toEqual(["node-a", "node-b"]);
    expect(existsSync(join(nodes.c!.rootfs, "var/lib/etcd"))).toBe(false);
    expect(JSON.parse(await must(ctlEtcd(IP.b, "get", "/k/", "--prefix", "--keys-only", "-w", "json"), "count")).count).toBe(1000);
  }, 40_000);

  test("Reset (graceful, Talos's default) of a control plane leaves the cluster first, also when it reboots: a fresh C joins, is reset, A and B list two members", async () => {
    // C left above and waits for a reboot to join again: a fresh node-c (new state, same address) joins by itself.
    await nodes.c!.cleanup();
    await boot("c", "C");
    await nodes.c!.waitForLine(/all services healthy/, 90_000);
    await until("node-c is a voting member again", 90_000, async () => {
      const m = await members(nodes.a!);
      return m.length === 3 && m.every((x) => !x.is_learner) && m.some((x) => x.hostname === "node-c") ? m : undefined;
    });
    await until("C's etcd is Running", 30_000, async () => ((await ctl(nodes.c!, "etcd", "status")).code === 0 ? true : undefined));
    const r = await ctl(nodes.c!, "reset", "--reboot");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const exit = await nodes.c!.exited;
    expect(exit.initSignal).toBe("SIGHUP");
    expect(nodes.c!.lines.some((l) => /reset requested: leave etcd/.test(l))).toBe(true);
    expect(nodes.c!.lines.some((l) => /leaveEtcd\/leave etcd: ok/.test(l))).toBe(true);
    expect(nodes.c!.lines.some((l) => /etcd: left the cluster \(member/.test(l))).toBe(true);
    expect(nodes.c!.lines.some((l) => /left the etcd cluster; data wiped/.test(l))).toBe(true);
    expect(existsSync(join(nodes.c!.rootfs, "var/lib/etcd"))).toBe(false);
    for (const n of [nodes.a!, nodes.b!]) expect((await members(n)).map((x) => x.hostname).sort()).toEqual(["node-a", "node-b"]);
    expect(JSON.parse(await must(ctlEtcd(IP.b, "get", "/k/", "--prefix", "--keys-only", "-w", "json"), "count")).count).toBe(1000);
  }, 200_000);

  test("a graceful power-off of B leaves the cluster first; the last member cannot be removed or leave", async () => {
    const exit = await nodes.b!.stop("SIGTERM", 60_000);
    expect(exit.initSignal).toBe("SIGINT");
    expect(nodes.b!.lines.some((l) => /leaveEtcd\/leave etcd: ok/.test(l))).toBe(true);
    const m = await members(nodes.a!);
    expect(m.map((x) => x.hostname)).toEqual(["node-a"]);
    const id = BigInt(m[0]!.id).toString(16);
    const remove = await ctl(nodes.a!, "etcd", "remove-member", id);
    expect(remove.code).toBe(1);
    expect(remove.err).toMatch(/failed precondition: refusing to remove the last etcd member/);
    const leave = await ctl(nodes.a!, "etcd", "leave");
    expect(leave.code).toBe(1);
    expect(leave.err).toMatch(/failed precondition: refusing to leave: this node is the last etcd member/);
    expect(JSON.parse(await must(ctlEtcd(IP.a, "get", "/k/", "--prefix", "--keys-only", "-w", "json"), "count")).count).toBe(1000);
  }, 90_000);
});

/** One transaction of puts through A (etcdctl txn reads compares, success ops, failure ops from stdin). */
async function inNsTxn(ops: string): Promise<string> {
  const s = join(nodes.a!.rootfs, "system/secrets/etcd");
  return must(
    inNs([etcdctl, `--endpoints=https://${IP.a}:2379`, `--cacert=${s}/ca.crt`, `--cert=${s}/admin.crt`, `--key=${s}/admin.key`, "txn"], {
      stdin: `\n${ops}\n\n\n`,
    }),
    "txn",
  );
}
