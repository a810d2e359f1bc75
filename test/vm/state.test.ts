// A node that keeps its state, under a real kernel (QEMU, TCG), booted as an
// operator boots it: a stock kernel cmdline (console=ttyS0 and nothing else:
// the address comes by DHCP from QEMU's user network) and one sparse virtio disk, chained across boots on the
// same image so the suite stays short:
//   boot 1: no config anywhere -> maintenance mode (API on TCP 50000, self-signed,
//           fingerprint on the console) -> a config naming a missing disk is refused
//           (INVALID_ARGUMENT with the path) -> an insecure apply with install.disk
//           /dev/vda installs -> QEMU SIGKILLed right after the reply.
//           The host checks the GPT with sfdisk --json.
//   boot 2: the same disk: no maintenance mode, xfs_repair/log replay reported, the
//           stored config (hostname) in force, mutual TLS with the config's CA,
//           /var is EPHEMERAL (xfs) -> Reboot through the API (orderly: unmounted).
//   boot 3: clean filesystems; the file machine.files appends under /var holds
//           one more line than in boot 2 -> /var survived the reboot -> Reset
//           (STATE and EPHEMERAL wiped, reboot).
//   boot 4: maintenance mode again (STATE holds no filesystem); an apply installs
//           again (no wipe needed: the layout is minos's own); SIGKILL; the host
//           overwrites STATE with random bytes (the XFS magic kept).
//   boot 5: xfs_repair cannot repair STATE: maintenance mode with the reason; the
//           power button powers it off from the maintenance wait.
//   boot 6: no disk; the ACPI power button pressed one second after init started
//           powers the node off in order (the boot is taken over).
//   boot 7: no disk, minos.config=http://10.0.2.100/node.yaml through a guestfwd to
//           a server on the host's loopback that answers 503 twice: fetched on the
//           third attempt, no maintenance mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ApiError, connect, type MachineClient } from "../../src/api/client.ts";
import { generateCa, issueClientCert, type CertAndKey } from "../../src/api/pki/certs.ts";
import { bootVm, ensureImage, type Vm, type VmOptions } from "../../scripts/vm.ts";

const BOOT_MS = 180_000;
/** The stock cmdline: the node finds its address by DHCP (QEMU user networking answers). */
const STOCK = "console=ttyS0";
const HEALTHY = /minos: all services healthy in (\d+) ms/;
const b64 = (s: string) => Buffer.from(s).toString("base64");

let dir: string;
let disk: string;
let ca: CertAndKey;
let admin: CertAndKey;
const vms: Vm[] = [];
const timings: string[] = [];

beforeAll(() => {
  ensureImage();
  for (const bin of ["sfdisk", "qemu-system-x86_64"])
    try {
      execFileSync("sh", ["-c", `command -v ${bin}`]);
    } catch {
      throw new Error(`${bin} is missing (apt-get install -y fdisk qemu-system-x86)`);
    }
  dir = mkdtempSync(join(tmpdir(), "minos-state-"));
  disk = join(dir, "disk.img");
  execFileSync("truncate", ["-s", "4G", disk]); // sparse: a few MiB on the host after the install
  ca = generateCa("minos-state-test");
  admin = issueClientCert(ca, "os:admin");
}, 300_000);

afterAll(async () => {
  for (const vm of vms) await vm.kill();
  if (timings.length) console.log(`vm-state (TCG): ${timings.join("; ")}`);
  rmSync(dir, { recursive: true, force: true });
});

let bootedAt = 0;

/** Runs a test's body with its VM; on failure the error carries the console's last lines; the VM is always ended. */
async function withVm(vm: Vm, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const tail = vm.lines
      .slice(-60)
      .map((l) => l.text)
      .join("\n");
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- console ---\n${tail}`);
  } finally {
    await vm.kill();
  }
}

async function boot(opts: { disks?: string[]; append?: string; guestfwds?: VmOptions["guestfwds"] } = {}): Promise<Vm> {
  bootedAt = performance.now();
  const vm = await bootVm({
    cmdline: `${STOCK}${opts.append ? ` ${opts.append}` : ""}`,
    disks: opts.disks ?? [disk],
    memoryMb: 1024,
    ...(opts.guestfwds ? { guestfwds: opts.guestfwds } : {}),
  });
  vms.push(vm);
  return vm;
}

const nodeConfig = (installDisk: string) =>
  stringify({
    version: "v1alpha1",
    machine: {
      ca: { crt: b64(ca.cert), key: b64(ca.key) },
      network: { hostname: "kept-1" },
      install: { disk: installDisk, wipe: false },
      files: [{ path: "/var/minos-test/boots", content: "a boot\n", op: "append" }],
    },
  });

/** Retries `f` until it resolves (the NIC and listener come up) or the deadline passes. */
async function retry<T>(what: string, vm: Vm, f: () => Promise<T>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > until)
        throw new Error(
          `${what}: ${e}\n${vm.lines
            .slice(-30)
            .map((l) => l.text)
            .join("\n")}`,
        );
      await Bun.sleep(500);
    }
  }
}

function mtls(vm: Vm): MachineClient {
  return connect({ endpoint: `127.0.0.1:${vm.hostPort}`, tls: { ca: ca.cert, cert: admin.cert, key: admin.key }, timeoutMs: 20_000 });
}

async function readText(c: MachineClient, path: string): Promise<string> {
  let out = "";
  for await (const chunk of c.read(path)) out += Buffer.from(chunk).toString("utf8");
  return out;
}

async function exitOf(vm: Vm, ms = 90_000): Promise<number | null> {
  const r = await Promise.race([vm.exited, Bun.sleep(ms).then(() => "timeout" as const)]);
  if (r === "timeout")
    throw new Error(
      `QEMU still running after ${ms} ms:\n${vm.lines
        .slice(-30)
        .map((l) => l.text)
        .join("\n")}`,
    );
  return r;
}

describe("state on disk", () => {
  let bootsAfter2 = 0;

  test(
    "boot 1: stock cmdline -> maintenance mode; bad disk refused; insecure apply installs; SIGKILL right after",
    async () => {
      const vm = await boot();
      await withVm(vm, async () => {
        const fp = await vm.waitForLine(/certificate SHA-256 fingerprint ([0-9A-F:]{95})/, BOOT_MS);
        const insecure = connect({ endpoint: `127.0.0.1:${vm.hostPort}`, insecure: true, timeoutMs: 120_000 });
        try {
          const v = await retry("maintenance Version", vm, () => insecure.version());
          const init = await vm.waitForLine(/Run \/init as init process/, 1);
          timings.push(
            `QEMU start -> maintenance API answering ${((performance.now() - bootedAt) / 1000).toFixed(1)} s (/init ran at ${(init.t / 1000).toFixed(1)} s)`,
          );
          expect(v.version?.tag).toBeTruthy();
          expect(fp.text).toMatch(/[0-9A-F]{2}(:[0-9A-F]{2}){31}/);
          expect(vm.log()).toMatch(/maintenance API on 10\.0\.2\.15:50000/);
          expect(vm.log()).toMatch(/state in RAM: \/system\/state and \/var are lost at reboot/);
          // Talos's maintenance set: Disks answers, anything else is UNIMPLEMENTED.
          const disks = await insecure.disks();
          expect(disks.disks.map((d) => d.device_name)).toContain("vda");
          const refused = await insecure.serviceList().catch((e) => e);
          expect(refused).toBeInstanceOf(ApiError);
          expect((refused as ApiError).codeName).toBe("UNIMPLEMENTED");
          // A missing install disk: INVALID_ARGUMENT naming it; still in maintenance mode.
          const bad = await insecure.applyConfiguration({ data: nodeConfig("/dev/vdz") }).catch((e) => e);
          expect(bad).toBeInstanceOf(ApiError);
          expect((bad as ApiError).codeName).toBe("INVALID_ARGUMENT");
          expect((bad as ApiError).details).toContain("/dev/vdz");
          await insecure.version();
          const t0 = performance.now();
          const r = await insecure.applyConfiguration({ data: nodeConfig("/dev/vda") });
          const applyMs = performance.now() - t0;
          process.kill(vm.pid, "SIGKILL"); // a power cut right after the reply
          timings.push(`apply -> installed (reply) ${(applyMs / 1000).toFixed(1)} s`);
          expect(r.mode_details).toContain("installed to /dev/vda");
        } finally {
          insecure.close();
        }
        await vm.exited;
        const table = JSON.parse(execFileSync("sfdisk", ["--json", disk], { encoding: "utf8" })).partitiontable;
        expect(table.label).toBe("gpt");
        expect(table.partitions.map((p: { name: string }) => p.name)).toEqual(["EFI", "BIOS", "BOOT", "META", "STATE", "EPHEMERAL"]);
      });
    },
    BOOT_MS + 300_000,
  );

  test(
    "boot 2: the same disk after SIGKILL: config kept, repair reported, EPHEMERAL at /var; Reboot",
    async () => {
      const vm = await boot();
      await withVm(vm, async () => {
        const healthy = await vm.waitForLine(HEALTHY, BOOT_MS);
        timings.push(`boot 2 QEMU start -> healthy ${(healthy.t / 1000).toFixed(1)} s`);
        const log = vm.log();
        expect(log).not.toMatch(/maintenance mode:/);
        expect(log).toMatch(/using the stored config/);
        expect(log).toMatch(/minos:\s+\/dev\/vda5: (xfs_repair|the log was dirty)/);
        expect(log).toMatch(/state on disk \/dev\/vda: STATE \/dev\/vda5 at \/system\/state, EPHEMERAL \/dev\/vda6 at \/var/);
        const c = mtls(vm);
        try {
          expect(await retry("mTLS hostname", vm, () => c.hostname())).toBe("kept-1");
          const mounts = await c.mounts();
          expect(mounts.find((m) => m.mounted_on === "/var")?.filesystem).toBe("/dev/vda6");
          expect(mounts.find((m) => m.mounted_on === "/system/state")?.filesystem).toBe("/dev/vda5");
          bootsAfter2 = (await readText(c, "/var/minos-test/boots")).split("\n").filter(Boolean).length;
          expect(bootsAfter2).toBeGreaterThanOrEqual(1);
          expect((await c.disks()).disks.find((d) => d.device_name === "vda")?.system_disk).toBe(true);
          await c.reboot();
        } finally {
          c.close();
        }
        expect(await exitOf(vm)).toBe(0); // -no-reboot: a guest reboot ends QEMU
        expect(vm.log()).toMatch(/\] minos:\s+unmounted|\[minos\]\s+unmounted/);
      });
    },
    BOOT_MS + 120_000,
  );

  test(
    "boot 3: after an orderly reboot: clean, /var kept its file; Reset wipes STATE and EPHEMERAL",
    async () => {
      const vm = await boot();
      await withVm(vm, async () => {
        const healthy = await vm.waitForLine(HEALTHY, BOOT_MS);
        timings.push(`boot 3 QEMU start -> healthy with state ${(healthy.t / 1000).toFixed(1)} s`);
        expect(vm.log()).toMatch(/\/dev\/vda5: xfs_repair -n found no corruption/);
        const c = mtls(vm);
        try {
          expect(await retry("mTLS hostname", vm, () => c.hostname())).toBe("kept-1");
          const lines = (await readText(c, "/var/minos-test/boots")).split("\n").filter(Boolean).length;
          expect(lines).toBe(bootsAfter2 + 1);
          await c.reset({ reboot: true });
        } finally {
          c.close();
        }
        expect(await exitOf(vm)).toBe(0);
        expect(vm.log()).toMatch(/wiped STATE \(\/dev\/vda5\)/);
        expect(vm.log()).toMatch(/wiped EPHEMERAL \(\/dev\/vda6\)/);
      });
    },
    BOOT_MS + 120_000,
  );

  test(
    "boot 4: after the Reset: maintenance mode again; the same disk installs again without wipe",
    async () => {
      const vm = await boot();
      await withVm(vm, async () => {
        await vm.waitForLine(/certificate SHA-256 fingerprint/, BOOT_MS);
        expect(vm.log()).toMatch(/STATE \/dev\/vda5 on \/dev\/vda holds no filesystem/);
        const insecure = connect({ endpoint: `127.0.0.1:${vm.hostPort}`, insecure: true, timeoutMs: 120_000 });
        try {
          await retry("maintenance Version", vm, () => insecure.version());
          // wipe: false, yet accepted: the disk holds minos's own layout.
          const r = await insecure.applyConfiguration({ data: nodeConfig("/dev/vda") });
          expect(r.mode_details).toContain("installed to /dev/vda");
        } finally {
          insecure.close();
        }
        process.kill(vm.pid, "SIGKILL");
        await vm.exited;
      });
      // Now make STATE unrepairable from the host: random bytes over all of it, the XFS magic kept.
      const state = JSON.parse(execFileSync("sfdisk", ["--json", disk], { encoding: "utf8" })).partitiontable.partitions.find(
        (p: { name: string }) => p.name === "STATE",
      ) as { start: number; size: number };
      const fd = openSync(disk, "r+");
      try {
        const junk = randomBytes(state.size * 512);
        junk.write("XFSB", 0, "latin1");
        writeSync(fd, junk, 0, junk.length, state.start * 512);
      } finally {
        closeSync(fd);
      }
    },
    BOOT_MS + 120_000,
  );

  test(
    "boot 5: a STATE xfs_repair cannot repair: maintenance mode, saying why; the power button powers it off",
    async () => {
      const vm = await boot();
      await withVm(vm, async () => {
        const why = await vm.waitForLine(/maintenance mode: the system disk's state cannot be used: STATE \/dev\/vda5/, BOOT_MS);
        expect(why.text).toMatch(/xfs_repair could not repair|mount failed/);
        await vm.waitForLine(/certificate SHA-256 fingerprint/, BOOT_MS);
        await vm.powerButton();
        expect(await exitOf(vm)).toBe(0);
        expect(vm.log()).toMatch(/poweroff requested: power button/);
        expect(vm.log()).toMatch(/sequence shutdown: taking over from boot/);
      });
    },
    BOOT_MS + 120_000,
  );

  test(
    "boot 6: a power-button press one second after init starts powers off in order",
    async () => {
      const vm = await boot({ disks: [] });
      await withVm(vm, async () => {
        await vm.waitForLine(/minos: minos init on a kernel boot/, BOOT_MS);
        await Bun.sleep(1000);
        const t0 = performance.now();
        await vm.powerButton();
        const code = await exitOf(vm);
        timings.push(`power button at init+1 s -> QEMU exit in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const log = vm.log();
        expect(code).toBe(0);
        expect(log).toMatch(/poweroff requested: power button/);
        expect(log).toMatch(/sequence shutdown: taking over from boot/);
        expect(log).toMatch(/\] minos:\s+unmounted|\[minos\]\s+unmounted/);
      });
    },
    BOOT_MS + 120_000,
  );

  test(
    "boot 7: minos.config=http://… is fetched once the network is up, with retries",
    async () => {
      let requests = 0;
      const config = stringify({ version: "v1alpha1", machine: { ca: { crt: b64(ca.cert), key: b64(ca.key) }, network: { hostname: "from-url" } } });
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) => {
          requests++;
          if (new URL(req.url).pathname !== "/node.yaml") return new Response("no", { status: 404 });
          return requests <= 2 ? new Response("not yet", { status: 503 }) : new Response(config);
        },
      });
      try {
        const relay = `${process.execPath} ${join(import.meta.dir, "../helpers/stdio-relay.ts")} ${server.port}`;
        const vm = await boot({ disks: [], append: "minos.config=http://10.0.2.100/node.yaml", guestfwds: [{ addr: "10.0.2.100", port: 80, cmd: relay }] });
        await withVm(vm, async () => {
          await vm.waitForLine(HEALTHY, BOOT_MS);
          const log = vm.log();
          expect(log).toMatch(/http:\/\/10\.0\.2\.100\/node\.yaml: attempt 1: HTTP 503; retrying/);
          expect(log).toMatch(/fetched http:\/\/10\.0\.2\.100\/node\.yaml \(\d+ bytes\) on attempt 3/);
          expect(log).not.toMatch(/maintenance API on/);
          const c = mtls(vm);
          try {
            expect(await retry("mTLS hostname", vm, () => c.hostname())).toBe("from-url");
            await c.shutdown();
          } finally {
            c.close();
          }
          expect(await exitOf(vm)).toBe(0);
          expect(requests).toBe(3);
        });
      } finally {
        server.stop(true);
      }
    },
    BOOT_MS + 120_000,
  );
});
