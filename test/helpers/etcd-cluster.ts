// What the three-node etcd test (test/sandbox/etcd/cluster.test.ts) and the
// etcd bench row (bench/rows/etcd.ts) share: the test network (a network
// namespace with a bridge, each node's eth0 a veth on it), the etcd image
// staged in a host registry and served by a mirror on the bridge, and the
// "direct" comparison cluster (the same etcd binary, flags, environment and
// certificates, run by the test in the nodes' network namespaces) with the put
// benchmark run against either cluster.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sandbox } from "../../scripts/sandbox.ts";
import { etcdRunSpec } from "../../src/etcd/service.ts";
import { pushImage } from "../fixtures/registry/image.ts";
import { REGISTRY_BIN, startRegistry, type RunningRegistry } from "../fixtures/registry/registry-server.ts";
import { etcdPath } from "./etcd.ts";
import { buildEtcdImage } from "./etcd-image.ts";

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs a command to its end; `home` is its HOME (etcdctl and minosctl write nothing else there). */
export async function runCmd(cmd: string[], opts: { stdin?: string; home?: string } = {}): Promise<Ran> {
  const p = Bun.spawn(cmd, {
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { HOME: opts.home ?? "/tmp", PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ETCDCTL_API: "3" },
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

export async function must(r: Promise<Ran>, what: string): Promise<string> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what}: exit ${x.code}: ${x.err}${x.out}`);
  return x.out;
}

export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(300);
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last: ${(last as Error).message})` : ""}`);
}

/** The test network: namespace `ns` with bridge br0 at `${net}.1/24`. Nothing on the host's own network. */
export class TestNet {
  constructor(
    readonly ns: string,
    readonly net: string,
    readonly home: string,
  ) {}

  run(cmd: string[], opts: { stdin?: string } = {}): Promise<Ran> {
    return runCmd(cmd, { ...opts, home: this.home });
  }

  inNs(cmd: string[], opts: { stdin?: string } = {}): Promise<Ran> {
    return this.run(["ip", "netns", "exec", this.ns, ...cmd], opts);
  }

  async create(): Promise<void> {
    await must(this.run(["ip", "netns", "add", this.ns]), "netns add");
    await must(this.inNs(["ip", "link", "add", "br0", "type", "bridge"]), "bridge");
    await must(this.inNs(["ip", "addr", "add", `${this.net}.1/24`, "dev", "br0"]), "bridge address");
    await must(this.inNs(["ip", "link", "set", "br0", "up"]), "bridge up");
    await must(this.inNs(["ip", "link", "set", "lo", "up"]), "lo up");
  }

  /** A veth named `veth` on the bridge whose peer is eth0 in the node's network namespace. */
  async attach(sb: Sandbox, veth: string): Promise<void> {
    await must(this.inNs(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", String(await sb.initPid())]), `veth ${veth}`);
    await must(this.inNs(["ip", "link", "set", veth, "master", "br0", "up"]), `veth ${veth} up`);
  }

  /** Deletes the namespace (the bridge and the host ends of the veths go with it). */
  async destroy(): Promise<void> {
    await this.run(["ip", "netns", "del", this.ns]);
  }
}

export const REGISTRY_PORT = 5000;
/** The image's own registry never answers (.invalid); its mirror on the bridge does, once started. */
export const ETCD_TEST_IMAGE = "registry.invalid/minos-test/etcd:v3.4.23";

/** The config patch every etcd test node gets: its name and address, no time sync, the mirror, the image. */
export function nodePatchYaml(net: string, host: string, ip?: string): string {
  return (
    `machine:\n  time: { disabled: true }\n  network:\n    hostname: ${host}\n${ip ? `    interfaces:\n      - interface: eth0\n        addresses: [${ip}/24]\n` : ""}` +
    `  registries:\n    mirrors:\n      registry.invalid:\n        endpoints: [http://${net}.1:${REGISTRY_PORT}]\n` +
    `cluster:\n  etcd:\n    image: ${ETCD_TEST_IMAGE}\n`
  );
}

/** Builds the etcd image (from Debian's etcd) and pushes it into a registry on the host's loopback. */
export async function stageEtcdImage(): Promise<{ staging: RunningRegistry; layerBytes: number; libraries: string[] }> {
  const built = buildEtcdImage();
  const staging = await startRegistry();
  try {
    await pushImage({ url: staging.url }, "minos-test/etcd", built.image, "v3.4.23");
  } catch (e) {
    await staging.stop();
    throw e;
  }
  return { staging, layerBytes: built.image.layers[0]!.size, libraries: built.libraries };
}

/** The mirror: a registry in the test namespace on the bridge's address, serving the staging registry's storage. */
export async function startMirror(net: TestNet, staging: RunningRegistry, dir: string): Promise<ReturnType<typeof Bun.spawn>> {
  const cfg = join(dir, "bridge-registry.yml");
  writeFileSync(
    cfg,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(staging.dir, "data")}`,
      "http:",
      `  addr: ${net.net}.1:${REGISTRY_PORT}`,
      `  secret: s-${process.pid}`,
      "",
    ].join("\n"),
  );
  const p = Bun.spawn(["ip", "netns", "exec", net.ns, REGISTRY_BIN, "serve", cfg], { stdout: "ignore", stderr: Bun.file(join(dir, "bridge-registry.log")) });
  await until("the mirror registry on the bridge", 15_000, async () =>
    (await net.inNs(["bash", "-c", `exec 3<>/dev/tcp/${net.net}.1/${REGISTRY_PORT}`])).code === 0 ? true : undefined,
  );
  return p;
}

/** etcdctl argv against `endpoints` (address, or address:port; 2379 by default) with the admin certificate in `secretsDir`. */
export function etcdctlArgv(etcdctl: string, secretsDir: string, endpoints: string[]): string[] {
  const urls = endpoints.map((e) => `https://${e.includes(":") ? e : `${e}:2379`}`);
  return [etcdctl, `--endpoints=${urls.join(",")}`, `--cacert=${secretsDir}/ca.crt`, `--cert=${secretsDir}/admin.crt`, `--key=${secretsDir}/admin.key`];
}

export interface DirectMember {
  /** Member name (also the data directory's suffix). */
  name: string;
  ip: string;
  sb: Sandbox;
}

export interface DirectClusterOptions {
  clientPort: number;
  peerPort: number;
  /** Data directory under the node's /var/lib (default `etcd-direct`). */
  dataName?: string;
  /** Prefix argv put before the etcd command (an experiment: e.g. `unshare --pid --fork`). */
  wrap?: (m: DirectMember) => string[];
  /** Where etcd, its data and its PKI are, as the (wrapped) command sees them (an experiment: inside another mount namespace). */
  paths?: (m: DirectMember, dataName: string) => { binary: string; dataDir: string; secretsDir: string };
  /** etcd's stdout/stderr read line by line as a supervisor would (default: discarded). */
  readOutput?: boolean;
  /** Otherwise its stderr goes to this file (default: discarded). */
  stderrFile?: (m: DirectMember) => string;
  /** A cgroup v2 directory (on the host) each member is moved into once spawned (an experiment: the container's own). */
  cgroup?: (m: DirectMember) => string;
}

export interface DirectCluster {
  procs: Array<ReturnType<typeof Bun.spawn>>;
  /** When the last member was spawned (performance.now()). */
  startedAt: number;
  stop(): Promise<void>;
}

/**
 * The comparison cluster: the same etcd binary, flags, environment and certificates as the minos-run
 * members, started directly in each node's network namespace (its own ports), its data on the node's /var
 * (seen through its init's root: the filesystem the minos-run member writes to).
 */
export async function startDirectCluster(members: DirectMember[], o: DirectClusterOptions): Promise<DirectCluster> {
  const dataName = o.dataName ?? "etcd-direct";
  const procs: Array<ReturnType<typeof Bun.spawn>> = [];
  const netns: string[] = [];
  const stop = async () => {
    // SIGKILL: a member told to stop gracefully can wait on its peers (stopping too) for good; these hold nothing to keep.
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    // A wrapper may leave etcd behind (a PID namespace's init loses unshare's --kill-child when nsenter changes its uid):
    // end every etcd in these nodes' network namespaces that listens on this cluster's client port.
    for (const pid of etcdsOn(netns, o.clientPort)) process.kill(pid, "SIGKILL");
  };
  try {
    for (const m of members) {
      const init = await m.sb.initPid();
      netns.push(readlinkSync(`/proc/${init}/ns/net`));
      const where = o.paths?.(m, dataName) ?? {
        binary: etcdPath(),
        dataDir: `/proc/${init}/root/var/lib/${dataName}`,
        secretsDir: join(m.sb.rootfs, "system/secrets/etcd"),
      };
      const s = etcdRunSpec({
        name: `${dataName}-${m.name}`,
        addresses: { advertised: [m.ip], listen: ["0.0.0.0"] },
        initialCluster: members.map((x) => ({ name: `${dataName}-${x.name}`, peerURL: `https://${x.ip}:${o.peerPort}` })),
        state: "new",
        image: "unused",
        extraArgs: {
          "listen-peer-urls": `https://0.0.0.0:${o.peerPort}`,
          "listen-client-urls": `https://0.0.0.0:${o.clientPort}`,
          "initial-advertise-peer-urls": `https://${m.ip}:${o.peerPort}`,
          "advertise-client-urls": `https://${m.ip}:${o.clientPort}`,
        },
        secretsDir: where.secretsDir,
        dataDir: where.dataDir,
      });
      // The same environment too (ETCD_CIPHER_SUITES): only the way it is run differs.
      const p = Bun.spawn(["nsenter", `--net=/proc/${init}/ns/net`, ...(o.wrap?.(m) ?? []), where.binary, ...s.args], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...s.env },
        stdout: o.readOutput ? "pipe" : "ignore",
        stderr: o.readOutput ? "pipe" : o.stderrFile ? Bun.file(o.stderrFile(m)) : "ignore",
      });
      procs.push(p);
      if (o.cgroup) writeFileSync(join(o.cgroup(m), "cgroup.procs"), String(p.pid));
      if (o.readOutput) for (const stream of [p.stdout, p.stderr] as ReadableStream<Uint8Array>[]) void drainLines(stream);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { procs, startedAt: performance.now(), stop };
}

/** Host pids of the etcd processes in one of the network namespaces `netns` (readlink of ns/net) listening for clients on `port`. */
export function etcdsOn(netns: string[], port: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() !== "etcd") continue;
      if (!netns.includes(readlinkSync(`/proc/${d}/ns/net`))) continue;
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(`--listen-client-urls=https://0.0.0.0:${port}\0`)) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Reads a stream to its end, splitting lines (what a supervisor does with a service's output). */
async function drainLines(stream: ReadableStream<Uint8Array>): Promise<void> {
  const dec = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
  }
}

/** Makes `ip` the leader of the cluster on `port` (a put through a follower costs a hop to the leader). */
export async function leadBy(net: TestNet, etcdctl: string, secretsDir: string, ips: string[], ip: string, port: number): Promise<void> {
  const eps = ips.map((x) => `${x}:${port}`);
  // `-w simple`: endpoint, ID (hex: JSON's numbers would round these uint64s), version, db size, is leader, ...
  const out = await must(net.inNs([...etcdctlArgv(etcdctl, secretsDir, eps), "endpoint", "status", "-w", "simple"]), "endpoint status");
  const f = out
    .trim()
    .split("\n")
    .map((l) => l.split(", "))
    .find((x) => x[0]!.includes(`${ip}:`));
  if (!f) throw new Error(`endpoint status: no line for ${ip}:\n${out}`);
  if (f[4] !== "true") await must(net.inNs([...etcdctlArgv(etcdctl, secretsDir, eps), "move-leader", f[1]!]), "move-leader");
}

export interface PutBench {
  /** Sequential put latency, ms. */
  p50: number;
  p99: number;
  /** Concurrent puts per second. */
  throughput: number;
}

export interface PutBenchSize {
  sequential: number;
  workers: number;
  perWorker: number;
}

/** The put benchmark (test/helpers/etcd-bench.ts, minos's etcd client) from the test namespace against `endpoint`. */
export async function putBench(net: TestNet, endpoint: string, secretsDir: string, prefix: string, size: PutBenchSize): Promise<PutBench> {
  const arg = JSON.stringify({
    endpoint,
    ca: `${secretsDir}/ca.crt`,
    cert: `${secretsDir}/admin.crt`,
    key: `${secretsDir}/admin.key`,
    ...size,
    prefix,
  });
  const out = await must(net.inNs([process.execPath, join(import.meta.dir, "etcd-bench.ts"), arg]), `bench ${endpoint}`);
  return JSON.parse(out) as PutBench;
}
