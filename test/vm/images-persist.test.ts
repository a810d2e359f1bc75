// Images survive a node restart when /var is on disk (issue 15, with the
// state issue): a real kernel under QEMU (TCG) with one sparse virtio disk,
// two boots of the same disk.
//   boot 1: stock cmdline, maintenance mode -> an insecure apply installs to
//           /dev/vda (STATE, EPHEMERAL at /var) and the boot goes on; the
//           extension service "ext" is pulled by minos from a real
//           Distribution registry on the host's loopback (the guest reaches it
//           at 10.0.2.100:5000 through guestfwd) into containerd, whose root is
//           /var/lib/containerd, and runs; ImageList (system namespace) lists
//           it; the config's ExtensionServiceConfig gives it a file and a
//           variable, printed by the container -> QEMU SIGKILLed a few
//           seconds after the pull (a power cut: nothing unmounted, the
//           kernel's writeback of dirty pages, 30 s old by default, not yet
//           run; only what minos flushed after the pull is on the disk).
//   The registry is stopped (the guestfwd now leads to a closed port).
//   boot 2: the same disk: the image is still listed, the service runs again
//           from the content store and snapshots kept on /var, with no pull
//           (no "pulled" line, nothing fetched), and the document's file is
//           written again for this boot -> Reboot through the API, orderly
//           (containers stopped, /var unmounted): QEMU exits 0.
// Before minos flushed /var after a pull, boot 2 found the image record and
// its snapshot but busybox in it was empty: "exec format error" at every start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { connect, type MachineClient } from "../../src/api/client.ts";
import { generateCa, issueClientCert, type CertAndKey } from "../../src/api/pki/certs.ts";
import { bootVm, ensureImage, type Vm } from "../../scripts/vm.ts";
import { scriptImage } from "../helpers/container-image.ts";
import { pushImage } from "../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../fixtures/registry/registry-server.ts";

const RELAY = resolve(import.meta.dir, "../fixtures/vm/relay.ts");
const GUEST_REGISTRY = "10.0.2.100:5000";
const IMAGE = `${GUEST_REGISTRY}/test/ext:v1`;
const BOOT_MS = 240_000;
const HEALTHY = /minos: all services healthy in (\d+) ms/;
const b64 = (s: string) => Buffer.from(s).toString("base64");

const SCRIPT = [
  'echo "EXT-FILE $(/bin/busybox cat /etc/ext/ext.conf)"',
  'echo "EXT-ENV GREETING=$GREETING"',
  'echo "EXT-DONE"',
  "exec /bin/busybox sleep 100000",
].join("; ");

let dir = "";
let disk = "";
let reg: RunningRegistry | undefined;
let ca: CertAndKey;
let admin: CertAndKey;
let relayPort = 0;
const vms: Vm[] = [];
const timings: string[] = [];

beforeAll(async () => {
  ensureImage();
  for (const bin of ["qemu-system-x86_64", "truncate"])
    if (!Bun.which(bin)) throw new Error(`${bin} is missing (apt-get install -y qemu-system-x86 coreutils)`);
  dir = mkdtempSync(join(tmpdir(), `minos-images-persist-${process.pid}-`));
  disk = join(dir, "disk.img");
  execFileSync("truncate", ["-s", "4G", disk]);
  ca = generateCa("minos-images-persist");
  admin = issueClientCert(ca, "os:admin");
  reg = await startRegistry();
  relayPort = reg.port;
  await pushImage({ url: reg.url }, "test/ext", scriptImage(SCRIPT), "v1");
}, 300_000);

afterAll(async () => {
  for (const vm of vms) await vm.kill();
  await reg?.stop();
  if (timings.length) console.log(`vm-images-persist (TCG): ${timings.join("; ")}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const nodeConfig = () =>
  [
    stringify({
      version: "v1alpha1",
      machine: {
        ca: { crt: b64(ca.cert), key: b64(ca.key) },
        install: { disk: "/dev/vda", wipe: false },
        registries: { mirrors: { [GUEST_REGISTRY]: { endpoints: [`http://${GUEST_REGISTRY}`] } } },
      },
      minos: { services: [{ id: "ext", image: IMAGE, restart: "always", env: { GREETING: "from-the-service" }, console: true }] },
    }),
    stringify({
      apiVersion: "v1alpha1",
      kind: "ExtensionServiceConfig",
      name: "ext",
      configFiles: [{ content: "kept = yes\n", mountPath: "/etc/ext/ext.conf" }],
      environment: ["GREETING=from-the-document"],
    }),
  ].join("---\n");

function boot(): Promise<Vm> {
  return bootVm({
    cmdline: "console=ttyS0",
    disks: [disk],
    memoryMb: 1536,
    // The registry is gone at boot 2: the relay then finds its port closed and the guest's connection ends.
    guestfwd: [{ guest: GUEST_REGISTRY, cmd: `${process.execPath} ${RELAY} 127.0.0.1 ${relayPort}` }],
  }).then((vm) => {
    vms.push(vm);
    return vm;
  });
}

async function withVm(vm: Vm, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const tail = vm.lines
      .slice(-80)
      .map((l) => l.text)
      .join("\n");
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- console ---\n${tail}`);
  } finally {
    await vm.kill();
  }
}

async function retry<T>(what: string, f: () => Promise<T>, ms = 90_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > until) throw new Error(`${what}: ${e}`);
      await Bun.sleep(500);
    }
  }
}

const mtls = (vm: Vm): MachineClient =>
  connect({ endpoint: `127.0.0.1:${vm.hostPort}`, tls: { ca: ca.cert, cert: admin.cert, key: admin.key }, timeoutMs: 30_000 });

async function systemImages(c: MachineClient): Promise<string[]> {
  const names: string[] = [];
  for await (const m of c.stream("machine.MachineService", "ImageList", { namespace: "NS_SYSTEM" })) names.push(m.name);
  return names;
}

async function exitOf(vm: Vm, ms = 120_000): Promise<number | null> {
  const r = await Promise.race([vm.exited, Bun.sleep(ms).then(() => "timeout" as const)]);
  if (r === "timeout") throw new Error(`QEMU still running after ${ms} ms`);
  return r;
}

const ran = (vm: Vm) => {
  const log = vm.log();
  expect(log).toMatch(/\[ext\] EXT-FILE kept = yes/);
  expect(log).toMatch(/\[ext\] EXT-ENV GREETING=from-the-document/);
};

describe("images survive a restart with /var on disk", () => {
  test(
    "boot 1: install from maintenance mode, pull and run the image service; ImageList lists it; power cut",
    async () => {
      const t0 = performance.now();
      const vm = await boot();
      await withVm(vm, async () => {
        await vm.waitForLine(/certificate SHA-256 fingerprint/, BOOT_MS);
        const insecure = connect({ endpoint: `127.0.0.1:${vm.hostPort}`, insecure: true, timeoutMs: 120_000 });
        try {
          await retry("maintenance Version", () => insecure.version());
          const r = await insecure.applyConfiguration({ data: nodeConfig() });
          expect(r.mode_details).toContain("installed to /dev/vda");
        } finally {
          insecure.close();
        }
        await vm.waitForLine(/\[ext\] EXT-DONE/, BOOT_MS);
        timings.push(`boot 1 QEMU start -> ext running from a fresh pull ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        expect(vm.log()).toMatch(new RegExp(`image ${IMAGE.replaceAll(".", "\\.")}: pulled sha256:[0-9a-f]{64}`));
        expect(vm.log()).toMatch(new RegExp(`image ${IMAGE.replaceAll(".", "\\.")}: flushed to disk in \\d+ ms`));
        ran(vm);
        const c = mtls(vm);
        try {
          expect(await retry("ImageList", () => systemImages(c))).toContain(IMAGE);
          // Maintenance mode mounted EPHEMERAL over the boot's tmpfs /var: the last /var mount is the one in use.
          const vars = (await c.mounts()).filter((m) => m.mounted_on === "/var");
          expect(vars.at(-1)?.filesystem).toBe("/dev/vda6");
        } finally {
          c.close();
        }
        const flushed = await vm.waitForLine(/: flushed to disk in \d+ ms/, 1);
        process.kill(vm.pid, "SIGKILL"); // the power cut
        timings.push(`power cut ${((performance.now() - t0 - flushed.t) / 1000).toFixed(1)} s after the flush`);
        await vm.exited;
      });
    },
    BOOT_MS * 2 + 120_000,
  );

  test(
    "boot 2, the registry stopped: the image is still listed and the service starts from the disk, without a pull; Reboot in order",
    async () => {
      await reg!.stop();
      reg = undefined;
      const t0 = performance.now();
      const vm = await boot();
      await withVm(vm, async () => {
        await vm.waitForLine(HEALTHY, BOOT_MS);
        await vm.waitForLine(/\[ext\] EXT-DONE/, 60_000);
        timings.push(`boot 2 QEMU start -> ext running from the disk ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const log = vm.log();
        expect(log).toMatch(/state on disk \/dev\/vda: STATE \/dev\/vda5 at \/system\/state, EPHEMERAL \/dev\/vda6 at \/var/);
        expect(log).toMatch(/service ext: Running: started, pid \d+/);
        expect(log).not.toMatch(/: pulled sha256:/);
        expect(log).not.toMatch(/service ext: Waiting: image /);
        ran(vm);
        const c = mtls(vm);
        try {
          expect(await retry("ImageList", () => systemImages(c))).toContain(IMAGE);
          await c.reboot();
        } finally {
          c.close();
        }
        expect(await exitOf(vm)).toBe(0); // -no-reboot: the guest's reboot ends QEMU
        expect(vm.log()).toMatch(/\] minos:\s+unmounted|\[minos\]\s+unmounted/);
      });
    },
    BOOT_MS + 180_000,
  );
});
