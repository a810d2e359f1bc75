// Rows 9: containerd's work, minos's client against `ctr` in one containerd
// (Debian's, started here in a temp dir with its own namespaces and cgroup,
// test/sandbox/containerd/daemon.ts) and one local Distribution registry
// (Debian's docker-registry, plain HTTP on loopback).
//   pull:   a ~50 MiB image of four gzip layers (busybox-static, then 8, 16
//           and 24 MiB of random bytes) — pullImage as PID 1 calls it vs
//           `ctr images pull`. Each side pulls an image of its own, made fresh
//           each round: containerd shares content between namespaces, and a
//           second pull of the same blobs transfers nothing.
//   create → running: ContainerRunner.start (the node's service path: stale
//           cleanup, OCI spec, snapshot, container, FIFOs, task create +
//           start) vs `ctr run -d`, of an image both have pulled.
// The order of the two sides swaps every round (bench/rounds.ts pair).
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerdClient } from "../../src/containerd/index.ts";
import { pullImage } from "../../src/images/pull.ts";
import { CgroupTree } from "../../src/init/mechanisms/cgroups.ts";
import { ContainerRunner } from "../../src/init/supervisor/container-runner.ts";
import { serviceSpec } from "../../src/init/supervisor/spec.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import { blob, pushImage, type Blob } from "../../test/fixtures/registry/image.ts";
import { startRegistry } from "../../test/fixtures/registry/registry-server.ts";
import { Daemon } from "../../test/sandbox/containerd/daemon.ts";
import { pair } from "../rounds.ts";

/** MiB of random bytes in each layer above busybox: 48 MiB, ~49.5 MiB with busybox on the wire. */
const RANDOM_LAYERS_MIB = [8, 16, 24];
/** ContainerRunner.start and `ctr run -d` calls per side and round; the round's value is their median. */
const STARTS_PER_ROUND = 3;

export interface PullRound {
  minosMs: number;
  ctrMs: number;
  /** Bytes on the wire of minos's image this round. */
  bytes: number;
  /** The bench process's peak RSS during minos's pull, above what it was before (what PID 1 would add). */
  rssGrowMiB: number;
}

export interface StartRound {
  minosMs: number;
  ctrMs: number;
}

export interface ContainerRows {
  pull: PullRound[];
  start: StartRound[];
  containerd: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function sha256(bytes: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** A gzip'd tar of `files` (path → bytes or a file to copy), with its diff ID (the tar's digest). */
function layer(dir: string, files: Record<string, Uint8Array | { from: string; mode: number }>): { blob: Blob; diffId: string } {
  const root = mkdtempSync(join(dir, "layer-"));
  try {
    for (const [path, content] of Object.entries(files)) {
      const at = join(root, path);
      mkdirSync(join(at, ".."), { recursive: true });
      if (content instanceof Uint8Array) writeFileSync(at, content);
      else {
        copyFileSync(content.from, at);
        chmodSync(at, content.mode);
      }
    }
    const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", root, "-cf", "-", "."], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bench: tar failed: ${r.stderr.toString()}`);
    const tar = new Uint8Array(r.stdout);
    return { blob: blob("application/vnd.oci.image.layer.v1.tar+gzip", Bun.gzipSync(tar, { level: 1 })), diffId: sha256(tar) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Pushes an image of `layers` whose entrypoint sleeps (so a container of it keeps running); returns its size on the wire. */
async function pushTestImage(url: string, name: string, layers: { blob: Blob; diffId: string }[]): Promise<number> {
  const config = blob(
    "application/vnd.oci.image.config.v1+json",
    new TextEncoder().encode(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: ["/bin/busybox", "sleep", "100000"], Env: ["PATH=/bin"] },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      }),
    ),
  );
  const manifest = blob(
    "application/vnd.oci.image.manifest.v1+json",
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.blob.mediaType, digest: l.blob.digest, size: l.blob.size })),
      }),
    ),
  );
  await pushImage({ url }, name, { config, layers: layers.map((l) => l.blob), manifest }, "v1");
  return layers.reduce((a, l) => a + l.blob.size, config.size + manifest.size);
}

/** Both rows, `rounds` rounds each, against one containerd and one registry started (and removed) here. */
export async function containerRows(rounds: number, log: (m: string) => void): Promise<ContainerRows> {
  if (process.getuid?.() !== 0) throw new Error("bench: the containerd rows need root (containerd's namespaces, cgroups and overlay mounts)");
  const daemon = Daemon.start();
  const work = mkdtempSync(join(tmpdir(), `minos-bench-ctd-${process.pid}-`));
  let reg: Awaited<ReturnType<typeof startRegistry>> | undefined;
  const ctd = ContainerdClient.connect(daemon.socket, { timeoutMs: 60_000 });
  const ctr = (...args: string[]) => {
    const r = Bun.spawnSync([join(daemon.bins.pathDirs[0]!, "ctr"), "-a", daemon.socket, ...args], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bench: ctr ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  };
  try {
    const version = await ctd.waitReady(30_000);
    reg = await startRegistry();
    const registryUrl = reg.url;
    const registry = new RegistryClient({ mirrors: { [reg.host]: { endpoints: [reg.url] } } });
    const busybox = layer(work, { "bin/busybox": { from: daemon.bins.busybox, mode: 0o755 } });
    const freshImage = async (name: string) => {
      const layers = [busybox, ...RANDOM_LAYERS_MIB.map((mib) => layer(work, { [`data/${name}-${mib}`]: new Uint8Array(randomBytes(mib << 20)) }))];
      const bytes = await pushTestImage(registryUrl, `bench/${name}`, layers);
      return { ref: `${reg!.host}/bench/${name}:v1`, bytes };
    };

    const pulls: PullRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const mine = await freshImage(`m${r}`);
      const theirs = await freshImage(`c${r}`);
      let rssGrowMiB = 0;
      const [minosMs, ctrMs] = await pair(
        r,
        async () => {
          Bun.gc(true);
          const before = process.memoryUsage.rss();
          let peak = before;
          const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
          const t0 = performance.now();
          await pullImage(ctd, registry, mine.ref, { namespace: `bench-pull-minos-${r}` });
          const ms = performance.now() - t0;
          clearInterval(sampler);
          rssGrowMiB = (peak - before) / 1048576;
          return ms;
        },
        async () => {
          const t0 = performance.now();
          ctr("-n", `bench-pull-ctr-${r}`, "images", "pull", "--plain-http", theirs.ref);
          return performance.now() - t0;
        },
      );
      pulls.push({ minosMs, ctrMs, bytes: mine.bytes, rssGrowMiB });
      log(
        `pull round ${r + 1}/${rounds}: minos ${minosMs.toFixed(0)} ms, ctr ${ctrMs.toFixed(0)} ms (${(mine.bytes / 1048576).toFixed(1)} MiB; RSS +${rssGrowMiB.toFixed(1)} MiB)`,
      );
    }

    // create -> running: one image, pulled by each side into its namespace beforehand.
    const run = await freshImage("run");
    await pullImage(ctd, registry, run.ref, { namespace: "system" });
    ctr("-n", "bench-run-ctr", "images", "pull", "--plain-http", run.ref);
    const fifoDir = join(work, "fifos");
    mkdirSync(fifoDir);
    const ctrFifos = join(work, "ctr-fifos");
    mkdirSync(ctrFifos);
    const runner = new ContainerRunner({
      containerd: () => ctd,
      registry: () => registry,
      // containerd's cgroup namespace is rooted at the daemon's cgroup: the runner's tree lives there.
      cgroups: new CgroupTree("/", daemon.cgroupDir),
      oomScore: () => undefined,
      grantableCaps: () => [],
      log: () => {},
      fifoDir,
    });
    const sys = ctd.withNamespace("system");
    let n = 0;
    const minosStart = async () => {
      const id = `bench-${n++}`;
      const spec = serviceSpec({
        id,
        command: [],
        cgroup: `bench/${id}`,
        container: { image: run.ref, namespace: "system", env: [], mounts: [], hostNamespaces: [], noNewPrivileges: true },
      });
      const t0 = performance.now();
      const handle = await runner.start(
        spec,
        () => {},
        () => {},
      );
      const ms = performance.now() - t0;
      if ((await sys.tasks.get(id)).status !== "RUNNING") throw new Error(`bench: minos's container ${id} is not running after start`);
      await sys.tasks.kill(id, 9);
      await handle.exited;
      return ms;
    };
    const ctrStart = async () => {
      const id = `bench-ctr-${n++}`;
      const t0 = performance.now();
      ctr("-n", "bench-run-ctr", "run", "-d", "--cpu-shares", "0", "--fifo-dir", ctrFifos, run.ref, id);
      const ms = performance.now() - t0;
      ctr("-n", "bench-run-ctr", "task", "kill", "-s", "SIGKILL", id);
      return ms;
    };
    const starts: StartRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const m: number[] = [];
      const c: number[] = [];
      for (let k = 0; k < STARTS_PER_ROUND; k++) {
        const [a, b] = await pair(r + k, minosStart, ctrStart);
        m.push(a);
        c.push(b);
      }
      starts.push({ minosMs: median(m), ctrMs: median(c) });
      log(`create -> running round ${r + 1}/${rounds}: minos ${median(m).toFixed(0)} ms, ctr run -d ${median(c).toFixed(0)} ms`);
    }
    return { pull: pulls, start: starts, containerd: version.version };
  } catch (e) {
    log(`containerd log tail:\n${daemon.logTail(20)}`);
    throw e;
  } finally {
    ctd.close();
    await reg?.stop();
    await daemon.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** For a note: how the bench process's RSS grew during minos's pulls. */
export function rssNote(pulls: PullRound[]): string {
  const g = pulls.map((p) => p.rssGrowMiB.toFixed(1));
  return `bench process RSS during minos's pulls: +${g.join(", +")} MiB`;
}
