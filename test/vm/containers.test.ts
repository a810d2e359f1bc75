// Containers on the real kernel (QEMU, Debian's kernel): minos pulls an
// image from a real Distribution registry on the host's loopback (reached by
// the guest at 10.0.2.100:5000 through QEMU's guestfwd, one relay process per
// connection) and runs it as an extension service. On this kernel minos owns
// a cgroup2-only hierarchy with every controller: the container's cgroup is
// the service's, /system/extra/ext, and the controllers are there (the
// sandbox's host has none). The Stats call then reads the container's memory
// from its cgroup's memory.current (the sandbox falls back to VmRSS), checked
// against the same file read through the API.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import { stringify } from "yaml";
import { bootVm, ensureImage, type Vm } from "../../scripts/vm.ts";
import { connect } from "../../src/api/client.ts";
import { generateCa, issueClientCert } from "../../src/api/pki/certs.ts";
import { blob, busyboxLayer, imageFor, pushImage, type TestImage } from "../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../fixtures/registry/registry-server.ts";

const RELAY = resolve(import.meta.dir, "../fixtures/vm/relay.ts");
const GUEST_REGISTRY = "10.0.2.100:5000";
const BOOT_MS = 240_000;

let reg: RunningRegistry;
const vms: Vm[] = [];

/** The ext image: busybox, an entrypoint that reports its cgroup and the controllers it sees, then idles. */
function extImage(): TestImage {
  const layer = busyboxLayer();
  const base = imageFor("amd64", [layer]);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = [`sha256:${new Bun.CryptoHasher("sha256").update(Bun.gunzipSync(new Uint8Array(layer.bytes))).digest("hex")}`];
  const script = [
    'echo "EXT-CGROUP $(/bin/busybox grep ^0:: /proc/self/cgroup)"',
    'echo "EXT-CONTROLLERS $(/bin/busybox cat /sys/fs/cgroup/cgroup.controllers)"',
    'echo "EXT-READY"',
    "exec /bin/busybox sleep 100000",
  ].join("; ");
  cfg.config = { Entrypoint: ["/bin/busybox", "sh", "-c", script], Env: ["PATH=/bin"] };
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  return { config, layers: [layer], manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) };
}

beforeAll(async () => {
  ensureImage();
  reg = await startRegistry();
  await pushImage({ url: reg.url }, "test/ext", extImage(), "v1");
}, 300_000);

afterAll(async () => {
  for (const vm of vms) await vm.kill();
  await reg?.stop();
});

test(
  "an extension service container from a registry runs on the real kernel, in its own cgroup with every controller",
  async () => {
    const ca = generateCa("minos-vm-containers");
    const admin = issueClientCert(ca, "os:admin");
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    const config = {
      version: "v1alpha1",
      machine: { ca: { crt: b64(ca.cert), key: b64(ca.key) }, registries: { mirrors: { [GUEST_REGISTRY]: { endpoints: [`http://${GUEST_REGISTRY}`] } } } },
      minos: { services: [{ id: "ext", image: `${GUEST_REGISTRY}/test/ext:v1`, restart: "always", console: true }] },
    };
    const vm = await bootVm({
      files: { "system/state/config.yaml": stringify(config) },
      memoryMb: 1536,
      guestfwd: [{ guest: GUEST_REGISTRY, cmd: `${process.execPath} ${RELAY} 127.0.0.1 ${reg.port}` }],
    });
    vms.push(vm);
    await vm.waitForLine(/service ext: Running: started, pid \d+/, BOOT_MS);
    const cg = await vm.waitForLine(/\[ext\] EXT-CGROUP (.*)$/, 60_000);
    expect(cg.text).toMatch(/EXT-CGROUP 0::\/system\/extra\/ext$/);
    const ctl = await vm.waitForLine(/\[ext\] EXT-CONTROLLERS (.*)$/, 60_000);
    for (const c of ["cpu", "memory", "pids"]) expect(ctl.text.split(/\s+/)).toContain(c);
    // Stats: the container's memory is its cgroup's memory.current here.
    await vm.waitForLine(/\[ext\] EXT-READY$/, 60_000);
    const c = connect({ endpoint: `127.0.0.1:${vm.hostPort}`, tls: { ca: ca.cert, cert: admin.cert, key: admin.key }, timeoutMs: 20_000 });
    try {
      const stats = await c.call("machine.MachineService", "Stats", { namespace: "system", driver: "CONTAINERD" });
      const ext = stats.messages[0]!.stats.find((x) => x.id === "ext")!;
      let current = "";
      for await (const d of c.stream("machine.MachineService", "Read", { path: "/sys/fs/cgroup/system/extra/ext/memory.current" }))
        current += Buffer.from(d.bytes).toString();
      const want = Number(current.trim());
      expect(want).toBeGreaterThan(0);
      // An idle `sleep`: the two reads a moment apart differ by little.
      expect(Math.abs(Number(ext.memory_usage) - want)).toBeLessThan(want * 0.25);
      expect(Number(ext.cpu_usage)).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  },
  BOOT_MS + 120_000,
);
