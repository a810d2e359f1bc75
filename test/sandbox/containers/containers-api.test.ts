// Talos's Containers, Stats, Restart and container Logs against a booted
// sandbox node's own containerd (bootSandbox containers: a cgroup namespace,
// the rootfs bind-mounted on itself; DESIGN fact 9). The image (a
// busybox-static layer and this test's entrypoint) reaches the node as an OCI
// archive through `minosctl image import`: the services' registry answers
// nothing (127.0.0.1:1 in the node's netns), so they wait until the image is
// in containerd, then run from it (the pull is skipped for a present image).
//
// One boot proves: `minosctl containers` lists each container service with
// the pid its service reported and RUNNING; `stats` gives nonzero memory and
// CPU; `restart` of a restart-always service's container is SIGTERM to its
// task and the supervisor brings it back (new pid, the service's restart
// event); of a restart-on-failure one (its clean exit would end it), the
// supervisor restarts it; `logs ID`
// (namespace system, driver CONTAINERD) is the container's output; an unknown
// id is NOT_FOUND naming it, a bad namespace INVALID_ARGUMENT; -k asks k8s.io,
// where a container recorded as the CRI plugin records one (made here through
// containerd's API: no kubelet exists on these machines) is listed under its
// pod, has stats, its log file is `logs -k`, and restart is SIGTERM to it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { connect, type MachineClient } from "../../../src/api/client.ts";
import { ContainerdClient, DEFAULT_RUNTIME, OCI_SPEC_TYPE_URL, chainID, packJson } from "../../../src/containerd/index.ts";
import { runtimeSpec } from "../../../src/init/supervisor/oci-spec.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { Code } from "../../../src/api/status.ts";
import { withNode } from "../../helpers/node.ts";
import { busyboxPath } from "../../helpers/busybox.ts";
import { blob, imageFor, type Blob, type TestImage } from "../../fixtures/registry/image.ts";
import { ociArchive } from "../../helpers/container-image.ts";

const MARK = `minos-ctr-api-${process.pid}`;
/** No registry listens here: a pull is refused at once, and the service waits for the import. */
const REPO = "127.0.0.1:1/test/ctr";
const IMAGE = `${REPO}:v1`;
const SCRIPT = `echo "hello from ctr ${MARK} pid $$"; trap 'echo "ctr got SIGTERM"; exit 0' TERM; while true; do /bin/busybox sleep 0.2; done`;

let tmp = "";
let archive = "";
let diffIds: string[] = [];

// A container in k8s.io recorded as containerd's CRI plugin records one: the pod labels, and the
// LogPath of its metadata extension, which the shim writes the container's output to.
const POD = { "io.kubernetes.pod.name": "web-1", "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": "uid-1" };
const CRI_SHOWN = "default/web-1:app";
const CRI_LOG = "/var/log/pods/default_web-1_uid-1/app/0.log";
const CRI_SCRIPT = `echo "cri app ${MARK} up"; trap 'echo "cri app got SIGTERM"; exit 0' TERM; while true; do /bin/busybox sleep 0.2; done`;

/** A gzip'd tar layer of `files` as root:root. */
function layer(files: Record<string, { from: string; mode: number }>): Blob {
  const dir = mkdtempSync(join(tmp, "layer-"));
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    copyFileSync(c.from, join(dir, p));
    chmodSync(join(dir, p), c.mode);
  }
  const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", dir, "-czf", "-", "."], { stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error("tar of the layer failed");
  return blob("application/vnd.oci.image.layer.v1.tar+gzip", new Uint8Array(r.stdout));
}

/** An amd64 image whose config has the layers' diff IDs and the entrypoint. */
function image(layers: Blob[], entrypoint: string[]): TestImage {
  const base = imageFor("amd64", layers);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = layers.map((l) => `sha256:${new Bun.CryptoHasher("sha256").update(Bun.gunzipSync(new Uint8Array(l.bytes))).digest("hex")}`);
  cfg.config = { Entrypoint: entrypoint, Cmd: [], Env: ["PATH=/bin"] };
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  return { config, layers, manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), `minos-ctr-api-${process.pid}-`));
  const img = image([layer({ "bin/busybox": { from: busyboxPath(), mode: 0o755 } })], ["/bin/busybox", "sh", "-c", SCRIPT]);
  diffIds = JSON.parse(new TextDecoder().decode(img.config.bytes)).rootfs.diff_ids;
  // An OCI layout tar, its one manifest tagged v1 (the import's --name gives the repository).
  archive = ociArchive(img, "v1", tmp);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function config(): string {
  const fast = { initialMs: 200, maxMs: 1000 };
  return stringify({
    version: "v1alpha1",
    machine: {},
    minos: {
      services: [
        { id: "ctr", image: IMAGE, restart: "always", backoff: fast, stopGraceMs: 5000, console: true },
        { id: "ctr-onfail", image: IMAGE, restart: "on-failure", backoff: fast, stopGraceMs: 5000, console: true },
      ],
    },
  });
}

async function ctl(socket: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ HOME: tmp });
  const code = await main(["-n", `unix:${socket}`, ...args], io);
  return { code, out: io.out, err: io.err };
}

async function refused(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  return p.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: { code: number; details: string }) => e,
  );
}

describe("container RPCs on a sandbox node", () => {
  test("containers lists pid+RUNNING, stats nonzero, restart gives a new pid, logs are the output, unknown id NOT_FOUND", async () => {
    await withNode({ config: config(), containers: true }, async (sb) => {
      const socket = sb.socketPath;
      // The image is not there yet: the pull is refused, the service waits.
      await sb.waitForLine(/service ctr: Waiting: image 127\.0\.0\.1:1\/test\/ctr:v1: .*; retry in \d+ ms/, 60_000);
      // Made once the API listens: the client's session is dialled when it is made.
      const c: MachineClient = connect({ endpoint: `unix:${socket}` });
      try {
        const imported = await ctl(socket, "image", "import", archive, "--namespace", "system", "--name", REPO);
        expect(imported.err).toBe("");
        expect(imported.out).toBe(`imported ${IMAGE}\n`);
        const started = await sb.waitForLine(/service ctr: Running: started, pid (\d+)/, 60_000);
        const pid1 = Number(started[1]);
        const startedOnfail = await sb.waitForLine(/service ctr-onfail: Running: started, pid (\d+)/, 60_000);
        const onfail1 = Number(startedOnfail[1]);
        await sb.waitForLine(new RegExp(`\\[ctr\\] hello from ctr ${MARK} pid 1$`), 30_000);

        // 1. containers: talosctl's columns, each service's container with the pid its service reported.
        const list = await ctl(socket, "containers");
        expect(list.code).toBe(0);
        expect(list.out.split("\n")[0]).toMatch(/^NODE\s+NAMESPACE\s+ID\s+IMAGE\s+PID\s+STATUS$/);
        expect(list.out).toMatch(new RegExp(`\\ssystem\\s+ctr\\s+127\\.0\\.0\\.1:1/test/ctr:v1\\s+${pid1}\\s+RUNNING\\n`));
        expect(list.out).toMatch(new RegExp(`\\ssystem\\s+ctr-onfail\\s+127\\.0\\.0\\.1:1/test/ctr:v1\\s+${onfail1}\\s+RUNNING\\n`));
        const wire = await c.call("machine.MachineService", "Containers", { namespace: "system", driver: "CONTAINERD" });
        const ctr = wire.messages[0]!.containers.find((x) => x.id === "ctr")!;
        expect(ctr).toMatchObject({ namespace: "system", internal_id: "ctr", pod_id: "ctr", name: "ctr", pid: pid1, status: "RUNNING", network_namespace: "" });

        // 2. stats: memory and CPU of the container's cgroup, nonzero.
        const stats = await c.call("machine.MachineService", "Stats", { namespace: "system", driver: "CONTAINERD" });
        const st = stats.messages[0]!.stats.find((s) => s.id === "ctr")!;
        expect(Number(st.memory_usage)).toBeGreaterThan(100 * 1024);
        expect(Number(st.cpu_usage)).toBeGreaterThan(0);
        const statsOut = await ctl(socket, "stats");
        expect(statsOut.out.split("\n")[0]).toMatch(/^NODE\s+NAMESPACE\s+ID\s+MEMORY\(MB\)\s+CPU$/);
        const row = /\ssystem\s+ctr\s+(\d+\.\d\d)\s+(\d+)\n/.exec(statsOut.out);
        expect(row).not.toBeNull();
        expect(Number(row![1])).toBeGreaterThan(0);

        // 3. restart (restart always): SIGTERM to the task, the supervisor restarts the service: a new pid.
        const mark = sb.lines.length;
        const r = await ctl(socket, "restart", "ctr");
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        await sb.waitForLine(/\[ctr\] ctr got SIGTERM$/, 15_000, mark);
        await sb.waitForLine(/service ctr: Waiting: exited: exit code 0; restart 1 in \d+ ms/, 15_000, mark);
        const again = await sb.waitForLine(/service ctr: Running: started, pid (\d+)/, 30_000, mark);
        const pid2 = Number(again[1]);
        expect(pid2).not.toBe(pid1);
        const events = (await c.serviceList()).find((s) => s.id === "ctr")!.events!.events.map((e) => `${e.state}: ${e.msg}`);
        expect(events.some((e) => /^Waiting: exited: exit code 0; restart 1 in \d+ ms$/.test(e))).toBe(true);
        expect(events.at(-1)).toBe(`Running: started, pid ${pid2}`);
        expect((await ctl(socket, "containers")).out).toMatch(new RegExp(`\\ssystem\\s+ctr\\s+\\S+\\s+${pid2}\\s+RUNNING\\n`));

        // 3b. restart of a restart-on-failure service's container: its clean exit on SIGTERM would leave it
        // Finished, so the supervisor restarts it (stop, start).
        const mark2 = sb.lines.length;
        expect((await ctl(socket, "restart", "ctr-onfail")).code).toBe(0);
        await sb.waitForLine(/service ctr-onfail: Stopping: /, 15_000, mark2);
        const onfailAgain = await sb.waitForLine(/service ctr-onfail: Running: started, pid (\d+)/, 30_000, mark2);
        expect(Number(onfailAgain[1])).not.toBe(onfail1);

        // 4. logs: namespace system, driver containerd: the container's output (both runs).
        const lines: string[] = [];
        for await (const d of c.stream("machine.MachineService", "Logs", {
          namespace: "system",
          driver: "CONTAINERD",
          id: "ctr",
          tail_lines: -1,
          follow: false,
        }))
          lines.push(Buffer.from(d.bytes).toString().trimEnd());
        expect(lines.filter((l) => l === `hello from ctr ${MARK} pid 1`)).toHaveLength(2);
        expect(lines).toContain("ctr got SIGTERM");
        const logs = await ctl(socket, "logs", "ctr", "--tail", "-1");
        expect(logs.out).toContain(`hello from ctr ${MARK} pid 1\n`);

        // 5. Unknown ids, bad namespaces; -k asks the CRI's namespace (no pods here).
        const nf = await refused(c.call("machine.MachineService", "Restart", { namespace: "system", id: "nope", driver: "CONTAINERD" }));
        expect(nf.code).toBe(Code.NOT_FOUND);
        expect(nf.details).toBe('container "nope" not found in namespace system');
        const nfCtl = await ctl(socket, "restart", "nope");
        expect(nfCtl.code).toBe(1);
        expect(nfCtl.err).toBe('minosctl: not found: container "nope" not found in namespace system\n');
        const nfLogs = await refused(
          (async () => {
            for await (const _ of c.stream("machine.MachineService", "Logs", {
              namespace: "k8s.io",
              driver: "CRI",
              id: "nope",
              tail_lines: -1,
              follow: false,
            }));
          })(),
        );
        expect(nfLogs.code).toBe(Code.NOT_FOUND);
        expect(nfLogs.details).toContain('"nope"');
        const bad = await refused(c.call("machine.MachineService", "Containers", { namespace: "default", driver: "CONTAINERD" }));
        expect(bad.code).toBe(Code.INVALID_ARGUMENT);
        expect(bad.details).toContain('"default"');
        const k8sList = await ctl(socket, "containers", "-k");
        expect(k8sList.code).toBe(0);
        expect(k8sList.out.trim()).toMatch(/^NODE\s+NAMESPACE\s+ID\s+IMAGE\s+PID\s+STATUS$/);
        expect((await ctl(socket, "stats", "-k")).code).toBe(0);

        // 6. k8s.io: a container made through containerd's API the way the CRI plugin records one (no kubelet
        // exists here; see docs/containers.md): -k lists it under its pod, stats it, reads its log file, and
        // restart is SIGTERM to its task, which nobody brings back (the kubelet would).
        expect((await ctl(socket, "image", "import", archive, "--namespace", "cri", "--name", REPO)).code).toBe(0);
        const ctd = ContainerdClient.connect(`/proc/${await sb.initPid()}/root/run/containerd/containerd.sock`, { timeoutMs: 10_000 });
        const k8s = ctd.withNamespace("k8s.io");
        const criId = `cri-app-${process.pid}`;
        try {
          // Leased until the container refers to it, as the runner (and the CRI plugin) do: containerd's
          // garbage collector, run when the import above drops its lease, takes an unreferenced active snapshot.
          const lease = `test-create-${criId}`;
          await k8s.leases.create(lease, { "containerd.io/gc.expire": new Date(Date.now() + 10 * 60_000).toISOString() });
          const rootfs = await k8s.withLease(lease).snapshots.prepare(criId, chainID(diffIds));
          const spec = runtimeSpec(
            {
              image: IMAGE,
              namespace: "k8s.io",
              args: ["/bin/busybox", "sh", "-c", CRI_SCRIPT],
              env: [],
              mounts: [],
              hostNamespaces: ["network"],
              noNewPrivileges: true,
            },
            { entrypoint: [], cmd: [], env: ["PATH=/bin"], workingDir: "", user: "" },
            { id: criId, cgroupsPath: `/podruntime/${criId}`, grantable: [] },
          );
          await k8s.call("containerd.services.containers.v1.Containers", "Create", {
            container: {
              id: criId,
              image: IMAGE,
              labels: { ...POD, "io.kubernetes.container.name": "app", "io.cri-containerd.kind": "container" },
              runtime: { name: DEFAULT_RUNTIME, options: null },
              spec: packJson(OCI_SPEC_TYPE_URL, spec),
              snapshotter: "overlayfs",
              snapshot_key: criId,
              extensions: {
                "io.cri-containerd.container.metadata": packJson("github.com/containerd/cri/pkg/store/container/Metadata", {
                  Version: "v1",
                  Metadata: { ID: criId, Name: "app", LogPath: CRI_LOG },
                }),
              },
            },
          });
          await k8s.leases.delete(lease).catch(() => {});
          await k8s.tasks.create(criId, { stdout: `file://${CRI_LOG}`, stderr: `file://${CRI_LOG}`, rootfs });
          const criPid = await k8s.tasks.start(criId);
          const kl = await ctl(socket, "containers", "-k");
          expect(kl.out).toMatch(new RegExp(`\\sk8s\\.io\\s+└─ default/web-1:app\\s+127\\.0\\.0\\.1:1/test/ctr:v1\\s+${criPid}\\s+RUNNING\\n`));
          const kw = await c.call("machine.MachineService", "Containers", { namespace: "k8s.io", driver: "CRI" });
          expect(kw.messages[0]!.containers.find((x) => x.internal_id === criId)).toMatchObject({
            id: CRI_SHOWN,
            pod_id: "default/web-1",
            name: "app",
            uid: "uid-1",
            pid: criPid,
            status: "RUNNING",
          });
          const ks = await c.call("machine.MachineService", "Stats", { namespace: "k8s.io", driver: "CRI" });
          expect(Number(ks.messages[0]!.stats.find((x) => x.id === CRI_SHOWN)?.memory_usage ?? 0)).toBeGreaterThan(100 * 1024);
          const criLog = async () => (await ctl(socket, "logs", "-k", CRI_SHOWN)).out;
          for (let i = 0; i < 100 && !(await criLog()).includes(`cri app ${MARK} up`); i++) await Bun.sleep(50);
          expect(await criLog()).toBe(`cri app ${MARK} up\n`);
          expect((await ctl(socket, "restart", "-k", CRI_SHOWN)).code).toBe(0);
          let status = "";
          for (let i = 0; i < 100 && status !== "STOPPED"; i++) {
            await Bun.sleep(50);
            const now = await c.call("machine.MachineService", "Containers", { namespace: "k8s.io", driver: "CRI" });
            status = now.messages[0]!.containers.find((x) => x.internal_id === criId)?.status ?? "";
          }
          expect(status).toBe("STOPPED");
          expect(await criLog()).toBe(`cri app ${MARK} up\ncri app got SIGTERM\n`);
          // Its task is there but stopped: nothing to restart.
          const again = await refused(c.call("machine.MachineService", "Restart", { namespace: "k8s.io", id: CRI_SHOWN, driver: "CRI" }));
          expect(again.code).toBe(Code.FAILED_PRECONDITION);
          expect(again.details).toBe(`container "${CRI_SHOWN}" is not running (its task is STOPPED)`);
        } finally {
          await k8s.tasks.delete(criId).catch(() => {});
          await k8s.containers.delete(criId).catch(() => {});
          await k8s.snapshots.remove(criId).catch(() => {});
          ctd.close();
        }
      } catch (e) {
        // containerd's own account of what went wrong, when the node still answers.
        const tail: string[] = [];
        try {
          for await (const l of c.logs("containerd", { tail: 30 })) tail.push(l);
        } catch {}
        const exit = await Promise.race([sb.exited, Bun.sleep(500).then(() => undefined)]);
        throw new Error(
          `${(e as Error).message}\n${exit ? `the node ended: ${JSON.stringify(exit)}\n` : ""}containerd log tail:\n${tail.join("\n")}\nconsole tail:\n${sb.lines.slice(-40).join("\n")}`,
        );
      } finally {
        c.close();
      }
    });
  }, 180_000);
});
