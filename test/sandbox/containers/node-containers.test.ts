// Containers on a booted sandbox node (bootSandbox containers: a cgroup
// namespace and the rootfs bind-mounted on itself, DESIGN fact 9): the node's
// own containerd, images pulled by minos from real Distribution registries
// that run INSIDE the node's network namespace (its only link is lo) — one
// HTTPS with a test CA given in machine.registries.config, one plain-HTTP
// mirror — serving images this test built (busybox-static layer, its own
// entrypoints) and pushed into their shared storage.
//
// One boot proves, in order: an image service is Waiting with the registry's
// error while no registry answers (never a fake Running) -> the registries come
// up and it runs -> its output is in the Logs API and `minosctl logs` -> kill -9
// of its process restarts it -> ServiceStop ends it within its grace, its task
// gone -> a 404 and an index without linux/amd64 leave services Waiting with
// the message -> a missing entrypoint is Failed with runc's message -> the
// kubelet stand-in gets Talos's mounts, host network and PID namespaces,
// cgroup /podruntime/kubelet and every capability.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Sandbox } from "../../../scripts/sandbox.ts";
import { connect, type MachineClient } from "../../../src/api/client.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { Code } from "../../../src/api/status.ts";
import { namespacePids, withNode } from "../../helpers/node.ts";
import { DEFAULT_HOSTNAME } from "../../../src/config/v1alpha1.ts";
import { busyboxPath } from "../../helpers/busybox.ts";
import { blob, imageFor, pushImage, pushIndex, type Blob, type TestImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { makeTestPKI, type TestPKI } from "../../fixtures/registry/test-ca.ts";
import { ociArchive, registryInNode } from "../../helpers/container-image.ts";

const TLS_PORT = 15000 + (process.pid % 1000);
const HTTP_PORT = TLS_PORT + 1000;
const TLS_HOST = `127.0.0.1:${TLS_PORT}`;
const MIRRORED = "mirror.invalid";
const MARK = `minos-ext-${process.pid}`;

let tmp = "";
let archive = "";
let pki: TestPKI;
let staging: RunningRegistry;
const procs: ReturnType<typeof Bun.spawn>[] = [];

/** A gzip'd tar layer of `files` (path -> content or host file) as root:root. */
function layer(files: Record<string, string | { from: string; mode: number }>): Blob {
  const dir = mkdtempSync(join(tmp, "layer-"));
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    if (typeof c === "string") writeFileSync(join(dir, p), c, { mode: 0o755 });
    else {
      copyFileSync(c.from, join(dir, p));
      chmodSync(join(dir, p), c.mode);
    }
  }
  const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", dir, "-czf", "-", "."], { stdout: "pipe" });
  return blob("application/vnd.oci.image.layer.v1.tar+gzip", new Uint8Array(r.stdout));
}

/** An amd64 image with correct diff IDs and the given entrypoint. */
function image(layers: Blob[], entrypoint: string[], arch = "amd64"): TestImage {
  const base = imageFor(arch, layers);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = layers.map((l) => `sha256:${new Bun.CryptoHasher("sha256").update(Bun.gunzipSync(new Uint8Array(l.bytes))).digest("hex")}`);
  cfg.config = { Entrypoint: entrypoint, Cmd: [], Env: ["PATH=/bin"] };
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  return { config, layers, manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) };
}

const SERVICE_SCRIPT = `echo "hello from ext ${MARK} pid $$"; trap 'echo "ext got SIGTERM"; exit 0' TERM; while true; do /bin/busybox sleep 0.2; done`;

// The kubelet stand-in: Talos runs /usr/local/bin/kubelet of the image; this one prints what it was given.
const KUBELET_SCRIPT = `#!/bin/busybox sh
echo "KUBELET-ARGS $*"
/bin/busybox awk '{print "KUBELET-MOUNT " $5}' /proc/self/mountinfo
echo "KUBELET-NS net=$(/bin/busybox readlink /proc/self/ns/net) pid=$(/bin/busybox readlink /proc/self/ns/pid)"
echo "KUBELET-CGROUP $(/bin/busybox grep ^0:: /proc/self/cgroup)"
echo "KUBELET-CAPS $(/bin/busybox grep CapEff /proc/self/status)"
echo "KUBELET-DONE"
exec /bin/busybox sleep 100000
`;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), `minos-ctr-${process.pid}-`));
  pki = makeTestPKI();
  // A host-side registry only to push into the storage the node-side registries serve.
  staging = await startRegistry();
  const push = { url: staging.url };
  const bb = layer({ "bin/busybox": { from: busyboxPath(), mode: 0o755 } });
  const ext = image([bb], ["/bin/busybox", "sh", "-c", SERVICE_SCRIPT]);
  await pushImage(push, "test/ext", ext, "v1");
  await pushImage(push, "test/noentry", image([bb], ["/nonexistent/entrypoint"]), "v1");
  await pushIndex(push, "test/armonly", "v1", [{ image: image([bb], ["/bin/busybox"], "arm64"), os: "linux", architecture: "arm64" }]);
  // An OCI layout tar of the ext image, for the air-gapped import (tagged "offline").
  archive = ociArchive(ext, "offline", tmp);
  const kubelet = layer({ "usr/local/bin/kubelet": KUBELET_SCRIPT });
  await pushImage(push, "test/kubelet", image([bb, kubelet], ["/usr/local/bin/kubelet"]), "v1");
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  await staging?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A registry process inside the node's network namespace, serving the staging registry's storage. */
async function registryIn(sb: Sandbox, port: number, tls: boolean): Promise<void> {
  procs.push(await registryInNode(sb, port, join(staging.dir, "data"), tmp, tls ? { cert: pki.serverCert, key: pki.serverKey } : undefined));
}

/** Host pids whose command line contains `needle`. */
function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(needle)) out.push(Number(d));
    } catch {}
  }
  return out;
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

function config(): string {
  const fast = { initialMs: 200, maxMs: 1000 };
  return stringify({
    version: "v1alpha1",
    machine: {
      kubelet: { image: `${TLS_HOST}/test/kubelet:v1`, extraArgs: { v: "2" } },
      registries: {
        mirrors: { [MIRRORED]: { endpoints: [`http://127.0.0.1:${HTTP_PORT}`] } },
        config: { [TLS_HOST]: { tls: { ca: Buffer.from(pki.caCert).toString("base64") } } },
      },
    },
    cluster: { controlPlane: { endpoint: "https://127.0.0.1:6443" } },
    minos: {
      services: [
        { id: "ext", image: `${TLS_HOST}/test/ext:v1`, restart: "always", backoff: fast, stopGraceMs: 5000, console: true },
        {
          id: "ext-mirror",
          image: `${MIRRORED}/test/ext:v1`,
          command: ["/bin/busybox", "sh", "-c", "echo hello through the mirror; while true; do /bin/busybox sleep 1; done"],
          restart: "always",
          backoff: fast,
          console: true,
        },
        { id: "ext-missing", image: `${TLS_HOST}/test/missing:v1`, restart: "always", backoff: fast },
        { id: "ext-arm", image: `${TLS_HOST}/test/armonly:v1`, restart: "always", backoff: fast },
        { id: "ext-noentry", image: `${TLS_HOST}/test/noentry:v1`, restart: "always", backoff: fast },
      ],
    },
  });
}

describe("containers on a sandbox node", () => {
  test("pull (TLS + HTTP mirror) -> running -> logs -> kill -9 restarts -> stop within grace; bad images; the kubelet stand-in", async () => {
    if (!Bun.which("nsenter")) throw new Error("needs nsenter (util-linux)");
    await withNode({ config: config(), containers: true }, async (sb) => {
      // 1. No registry answers yet: Waiting with the registry's error, retried.
      await sb.waitForLine(/service ext: Waiting: image 127\.0\.0\.1:\d+\/test\/ext:v1: .*127\.0\.0\.1:\d+.*; retry in \d+ ms/, 60_000);
      const c: MachineClient = connect({ endpoint: `unix:${sb.socketPath}` });
      const state = async (id: string) => (await c.serviceList()).find((s) => s.id === id);
      try {
        const waiting = await state("ext");
        expect(waiting?.state).not.toBe("Running");
        // 2. The registries come up in the node's netns: both services run.
        await registryIn(sb, TLS_PORT, true);
        await registryIn(sb, HTTP_PORT, false);
        await sb.waitForLine(/service ext: Running: started, pid \d+/, 60_000);
        await sb.waitForLine(/service ext-mirror: Running: started, pid \d+/, 60_000);
        await sb.waitForLine(new RegExp(`\\[ext\\] hello from ext ${MARK} pid 1$`), 30_000);
        // 2b. Pull progress is on the node's event stream (per layer: 0 .. size; whichever pull fetched the shared busybox layer).
        const progress: { image: string; received: number; total: number }[] = [];
        const events = c.events({ tail: -1 });
        const timer = setTimeout(() => events.cancel(), 10_000);
        try {
          for await (const e of events) {
            if (e.type !== "minos.machine.ImagePullProgressEvent") continue;
            const p = e.payload as { image: string; received: number; total: number };
            progress.push(p);
            if (Number(p.total) > 1_000_000 && Number(p.received) === Number(p.total)) break;
          }
        } catch {
          // cancelled by the timer: the assertions below say what was missing
        } finally {
          clearTimeout(timer);
        }
        expect(progress.some((p) => Number(p.received) === 0 && Number(p.total) > 1_000_000)).toBe(true);
        expect(progress.some((p) => Number(p.received) === Number(p.total) && Number(p.total) > 1_000_000)).toBe(true);
        // 3. Its output through the Logs API and minosctl logs.
        const lines: string[] = [];
        for await (const l of c.logs("ext")) lines.push(l);
        expect(lines).toContain(`hello from ext ${MARK} pid 1`);
        await sb.waitForLine(/\[ext-mirror\] hello through the mirror$/, 30_000);
        const io = captureIo({ HOME: tmp });
        expect(await main(["-n", `unix:${sb.socketPath}`, "logs", "ext-mirror"], io)).toBe(0);
        expect(io.out).toContain("hello through the mirror");
        // 4. kill -9 of the container's process: the service restarts it (a new task, one process).
        const procsBefore = await until("the ext process", () => {
          const p = pidsWith(`hello from ext ${MARK}`);
          return p.length ? p : undefined;
        });
        const first = procsBefore[0]!;
        process.kill(first, "SIGKILL");
        await sb.waitForLine(/service ext: Waiting: exited: signal 9 \(SIGKILL\); restart 1 in \d+ ms/, 30_000);
        const running = sb.lines.length;
        await sb.waitForLine(/service ext: Running: started, pid \d+/, 30_000, running);
        const second = await until("the restarted ext process", () => pidsWith(`hello from ext ${MARK}`).find((p) => !procsBefore.includes(p)));
        expect(second).not.toBe(first);
        // 4b. containerd dies under the running container (kill -9): the supervisor restarts it, the shim
        // and the container live on, and the runner waits on the same task again: no restart, no duplicate.
        const initPid0 = await sb.initPid();
        const nodePids = new Set(namespacePids(initPid0));
        const ctdPid = pidsWith("/etc/containerd/config.toml").find((p) => nodePids.has(p))!;
        expect(ctdPid).toBeGreaterThan(0);
        const mark = sb.lines.length;
        process.kill(ctdPid, "SIGKILL");
        await sb.waitForLine(/service containerd: Running: started, pid \d+/, 30_000, mark);
        await sb.waitForLine(/container ext: containerd answers again; task pid \d+ still RUNNING/, 30_000, mark);
        expect(pidsWith(`hello from ext ${MARK}`)).toContain(second);
        expect(pidsWith(`hello from ext ${MARK}`)).toHaveLength(1);
        expect(sb.lines.slice(mark).filter((l) => /service ext: (Waiting|Preparing)/.test(l))).toEqual([]);
        // 5. ServiceStop: SIGTERM, the trap exits well within the 5 s grace; no process left.
        const t0 = performance.now();
        expect(await c.serviceStop("ext")).toMatch(/service ext stopped/);
        expect(performance.now() - t0).toBeLessThan(5000);
        expect((await state("ext"))?.state).toBe("Finished");
        await until("ext's processes to be gone", () => (pidsWith(`hello from ext ${MARK}`).length === 0 ? true : undefined), 5000);
        expect(matching(sb.lines, /\[ext\] ext got SIGTERM/)).toBe(true);
        // 6. Bad images: one clear message each.
        await sb.waitForLine(/service ext-missing: Waiting: image .*test\/missing:v1: .*404.*; retry in/, 30_000);
        await sb.waitForLine(/service ext-arm: Waiting: image .*test\/armonly:v1: .*has no linux\/amd64 manifest.*; retry in/, 30_000);
        const noentry = await until("ext-noentry Failed", async () => {
          const s = await state("ext-noentry");
          return s?.state === "Failed" ? s : undefined;
        });
        expect(noentry.events!.events.at(-1)!.msg).toMatch(/cannot start: container ext-noentry: .*\/nonexistent\/entrypoint.*no such file or directory/);
        // 7. The kubelet stand-in got Talos's environment.
        const kl = await until("the kubelet stand-in's report", async () => {
          const got: string[] = [];
          for await (const l of c.logs("kubelet")) got.push(l);
          return got.includes("KUBELET-DONE") ? got : undefined;
        });
        expect(kl).toContain("KUBELET-DONE");
        const initPid = await sb.initPid();
        const ns = kl.find((l) => l.startsWith("KUBELET-NS "))!;
        expect(ns).toBe(`KUBELET-NS net=${readlinkSync(`/proc/${initPid}/ns/net`)} pid=${readlinkSync(`/proc/${initPid}/ns/pid`)}`);
        expect(kl).toContain("KUBELET-CGROUP 0::/podruntime/kubelet");
        // Every capability containerd can grant (Talos's AllGrantableCapabilities): init's, less CAP_SYS_BOOT and CAP_SYS_MODULE.
        const prm = BigInt(`0x${/CapPrm:\s+([0-9a-f]+)/.exec(readFileSync(`/proc/${initPid}/status`, "utf8"))![1]}`);
        const want = prm & ~((1n << 22n) | (1n << 16n));
        expect(kl.find((l) => l.startsWith("KUBELET-CAPS "))).toMatch(new RegExp(`CapEff:\\s+${want.toString(16).padStart(16, "0")}$`));
        const mounts = kl.filter((l) => l.startsWith("KUBELET-MOUNT ")).map((l) => l.slice("KUBELET-MOUNT ".length));
        for (const m of [
          "/dev",
          "/sys",
          "/sys/fs/cgroup",
          "/etc/kubernetes",
          "/etc/cni",
          "/var/run",
          "/var/lib/containerd",
          "/var/lib/kubelet",
          "/var/log/containers",
          "/var/log/pods",
          "/etc/os-release",
        ])
          expect(mounts).toContain(m);
        const args = kl.find((l) => l.startsWith("KUBELET-ARGS "))!;
        expect(args).toBe(
          `KUBELET-ARGS --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubeconfig --cert-dir=/var/lib/kubelet/pki --config=/etc/kubernetes/kubelet.yaml --hostname-override=${DEFAULT_HOSTNAME} --kubeconfig=/etc/kubernetes/kubeconfig-kubelet --v=2`,
        );
        // 8. The image API: ImageList per namespace, ImagePull into the CRI's, a malformed reference refused naming it.
        const sys: { name: string; size: number }[] = [];
        for await (const m of c.stream("machine.MachineService", "ImageList", { namespace: "NS_SYSTEM" })) sys.push(m);
        const names = sys.map((m) => m.name);
        expect(names).toContain(`${TLS_HOST}/test/ext:v1`);
        expect(names).toContain(`${MIRRORED}/test/ext:v1`);
        expect(sys.find((m) => m.name === `${TLS_HOST}/test/ext:v1`)!.size).toBeGreaterThan(1_000_000);
        const pulled = await c.call("machine.MachineService", "ImagePull", { namespace: "NS_CRI", reference: `${MIRRORED}/test/ext:v1` });
        expect(pulled.messages).toHaveLength(1);
        const io2 = captureIo({ HOME: tmp });
        expect(await main(["-n", `unix:${sb.socketPath}`, "image", "list"], io2)).toBe(0);
        expect(io2.out).toMatch(new RegExp(`${MIRRORED}/test/ext:v1\\s+sha256:[a-f0-9]{64}`));
        const bad = await c.call("machine.MachineService", "ImagePull", { namespace: "NS_CRI", reference: "Bad Ref::1" }).then(
          () => undefined,
          (e: { code: number; details: string }) => e,
        );
        expect(bad?.code).toBe(Code.INVALID_ARGUMENT);
        expect(bad?.details).toContain("Bad Ref::1");
        const missing = await c.call("machine.MachineService", "ImagePull", { namespace: "NS_SYSTEM", reference: `${TLS_HOST}/test/missing:v1` }).then(
          () => undefined,
          (e: { code: number; details: string }) => e,
        );
        expect(missing?.code).toBe(Code.UNAVAILABLE);
        expect(missing?.details).toMatch(/404 Not Found: MANIFEST_UNKNOWN/);
        // 9. Air-gapped: an OCI archive streamed through minosctl image import (a minos extension RPC).
        const io3 = captureIo({ HOME: tmp });
        expect(await main(["-n", `unix:${sb.socketPath}`, "image", "import", archive, "--namespace", "system", "--name", "example.com/offline/ext"], io3)).toBe(
          0,
        );
        expect(io3.out).toBe("imported example.com/offline/ext:offline\n");
        const after: string[] = [];
        for await (const m of c.stream("machine.MachineService", "ImageList", { namespace: "NS_SYSTEM" })) after.push(m.name);
        expect(after).toContain("example.com/offline/ext:offline");
      } catch (e) {
        // containerd's own account of what went wrong, for the failure message.
        const tail: string[] = [];
        for await (const l of c.logs("containerd", { tail: 30 })) tail.push(l);
        throw new Error(`${(e as Error).message}\ncontainerd log tail:\n${tail.join("\n")}`);
      } finally {
        c.close();
      }
    });
  }, 240_000);
});

function matching(lines: string[], re: RegExp): boolean {
  return lines.some((l) => re.test(l));
}
