// Container create -> running: minos's runner (the node's code path: stale
// cleanup, spec, leased snapshot, container, FIFOs, task create + start) vs
// `ctr run -d` of the same image in the same containerd (Debian's 1.6 in
// private namespaces; no cpu shares, as this host's cgroup2 has no
// controllers: DESIGN fact 9). Both report the median of 5 runs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerdClient } from "../../../src/containerd/index.ts";
import { pullImage } from "../../../src/images/pull.ts";
import { CgroupTree } from "../../../src/init/mechanisms/cgroups.ts";
import { ContainerRunner } from "../../../src/init/supervisor/container-runner.ts";
import { serviceSpec } from "../../../src/init/supervisor/spec.ts";
import { RegistryClient } from "../../../src/registry/client.ts";
import { blob, busyboxLayer, imageFor, pushImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { Daemon } from "../containerd/daemon.ts";

let daemon: Daemon;
let ctd: ContainerdClient;
let reg: RunningRegistry;
let ref = "";
const tmp = mkdtempSync(join(tmpdir(), "minos-runbench-"));

beforeAll(async () => {
  daemon = Daemon.start();
  ctd = ContainerdClient.connect(daemon.socket, { timeoutMs: 30_000 });
  await ctd.waitReady(30_000);
  reg = await startRegistry();
  const layer = busyboxLayer();
  const base = imageFor("amd64", [layer]);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = [`sha256:${new Bun.CryptoHasher("sha256").update(Bun.gunzipSync(new Uint8Array(layer.bytes))).digest("hex")}`];
  cfg.config = { Entrypoint: ["/bin/busybox", "sleep", "1000"], Env: ["PATH=/bin"] };
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  await pushImage(
    { url: reg.url },
    "test/sleep",
    { config, layers: [layer], manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) },
    "v1",
  );
  ref = `${reg.host}/test/sleep:v1`;
  const client = new RegistryClient({ mirrors: { [reg.host]: { endpoints: [reg.url] } } });
  await pullImage(ctd, client, ref, { namespace: "system" });
  // ctr pulls its own copy (it keeps its records apart: same namespace, same content).
  const r = Bun.spawnSync([`${daemon.bins.pathDirs[0]}/ctr`, "-a", daemon.socket, "-n", "ctr-bench", "images", "pull", "--plain-http", ref], {
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
}, 120_000);

afterAll(async () => {
  ctd?.close();
  await reg?.stop();
  await daemon?.stop();
  rmSync(tmp, { recursive: true, force: true });
}, 30_000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test("create -> running: minos's runner vs ctr run -d (median of 5)", async () => {
  // The runner's cgroups live under the daemon's cgroup, which is the root of containerd's cgroup namespace.
  const cgroups = new CgroupTree("/", daemon.cgroupDir);
  const fifoDir = join(tmp, "fifos");
  mkdirSync(fifoDir);
  const runner = new ContainerRunner({
    containerd: () => ctd,
    registry: () => new RegistryClient({ mirrors: { [reg.host]: { endpoints: [reg.url] } } }),
    cgroups,
    oomScore: () => undefined,
    grantableCaps: () => [],
    log: () => {},
    fifoDir,
  });
  const ns = ctd.withNamespace("system");
  const minos: number[] = [];
  for (let i = 0; i < 5; i++) {
    const spec = serviceSpec({
      id: `bench-${i}`,
      command: [],
      cgroup: `bench/${i}`,
      container: { image: ref, namespace: "system", env: [], mounts: [], hostNamespaces: [], noNewPrivileges: true },
    });
    const t0 = performance.now();
    const run = await runner.start(
      spec,
      () => {},
      () => {},
    );
    minos.push(performance.now() - t0);
    expect((await ns.tasks.get(spec.id)).status).toBe("RUNNING");
    await ns.tasks.kill(spec.id, 9);
    await run.exited;
  }
  const ctr: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = Bun.spawnSync(
      [
        `${daemon.bins.pathDirs[0]}/ctr`,
        "-a",
        daemon.socket,
        "-n",
        "ctr-bench",
        "run",
        "-d",
        "--cpu-shares",
        "0",
        "--fifo-dir",
        join(daemon.dir, "ctr-fifo"),
        ref,
        `ctr-${i}`,
      ],
      { stderr: "pipe" },
    );
    ctr.push(performance.now() - t0);
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  }
  console.log(
    `create -> running: minos ${median(minos).toFixed(0)} ms, ctr run -d ${median(ctr).toFixed(0)} ms (ratio ${(median(minos) / median(ctr)).toFixed(2)})`,
  );
}, 120_000);
