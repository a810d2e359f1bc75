// issue 18 item 2: the atomic config store on a nearly full filesystem. The
// node's /system/state is a 64 KiB tmpfs (mounted by the test on the rootfs
// copy, before the boot, and unmounted after) filled to 0, 4 KiB and 8 KiB
// free; a 20 KiB config is applied. The reply must tell the truth (an error
// with the errno, RESOURCE_EXHAUSTED), the stored file must be the old one
// byte for byte (never a prefix of the new one), and the next boot must use
// it. Then, with room, the same apply is stored whole and used by the next
// boot. Needs root and `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, STORED_CONFIG_IN_ROOTFS, type Sandbox } from "../../../scripts/sandbox.ts";
import { connect } from "../../../src/api/client.ts";

const OLD = "version: v1alpha1\nmachine:\n  network:\n    hostname: old-node\n";
/** ~20 KiB, valid, live-appliable (machine.env), with a hostname that shows which config a boot used. */
const NEW = stringify({
  version: "v1alpha1",
  machine: { network: { hostname: "new-node" }, env: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`PAD_${i}`, "x".repeat(1000)])) },
});

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((e) => console.error(`cleanup: ${e}`));
});

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr || r.error}`);
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** A private rootfs copy whose /system/state is a fresh 64 KiB tmpfs holding OLD, filled to `free` bytes free. */
async function preparedRootfs(free: number): Promise<string> {
  // The first boot only makes the private copy (bootSandbox's own), then powers off.
  const first = await bootSandbox({ config: OLD });
  cleanups.push(() => first.cleanup());
  await first.waitForLine(/all services healthy/, 60_000);
  await first.stop();
  const state = join(first.rootfs, "system/state");
  rmSync(join(state, "config.yaml"), { force: true });
  sh(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", `minos-test-state-${process.pid}`, state]);
  // Unmount before the copy is removed (first.cleanup runs later: cleanups run in reverse).
  cleanups.push(() => sh(["umount", "-l", state]));
  writeFileSync(join(state, "config.yaml"), OLD, { mode: 0o600 });
  const fill = freeBytes(state) - free;
  if (fill > 0) writeFileSync(join(state, "filler"), Buffer.alloc(fill, 0x2e));
  expect(freeBytes(state)).toBe(free);
  return first.rootfs;
}

async function boot(rootfs: string): Promise<Sandbox> {
  const sb = await bootSandbox({ rootfs, privateCopy: false, echo: process.env.MINOS_TEST_ECHO ? true : undefined });
  cleanups.push(() => sb.cleanup());
  await sb.waitForLine(/all services healthy/, 60_000);
  return sb;
}

async function applyNew(sb: Sandbox): Promise<{ ok: boolean; code?: number; text: string }> {
  const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 20_000 });
  try {
    return await api.applyConfiguration({ data: NEW, mode: "no_reboot" }).then(
      (r) => ({ ok: true, text: r.mode_details }),
      (e: { code?: number; message?: string }) => ({ ok: false, code: e.code, text: String(e.message ?? e) }),
    );
  } finally {
    api.close();
  }
}

describe("the config store on a nearly full filesystem", () => {
  for (const free of [0, 4096, 8192]) {
    test(`${free} bytes free: a 20 KiB apply is refused with RESOURCE_EXHAUSTED, the stored file stays the old one, the next boot uses it`, async () => {
      const rootfs = await preparedRootfs(free);
      const stored = join(rootfs, STORED_CONFIG_IN_ROOTFS);
      const sb = await boot(rootfs);
      const reply = await applyNew(sb);
      const bytes = readFileSync(stored);
      console.log(
        `[figure] ${free} B free: reply ${reply.ok ? "OK" : `error ${reply.code}`} "${reply.text.slice(0, 160)}"; stored ${bytes.length} bytes (${bytes.equals(Buffer.from(OLD)) ? "old" : bytes.equals(Buffer.from(NEW)) ? "new" : "NEITHER"})`,
      );
      expect(bytes.length).toBe(Buffer.byteLength(OLD));
      expect(bytes.toString("utf8")).toBe(OLD);
      expect(reply.ok).toBe(false);
      expect(reply.code).toBe(8); // RESOURCE_EXHAUSTED
      expect(reply.text).toMatch(/ENOSPC/);
      expect(reply.text).toMatch(/unchanged/);
      // Nothing half-done: no temp file left taking the little space there is, the effective config is the old one.
      expect(readdirSync(join(rootfs, "system/state")).filter((n) => n.includes(".tmp."))).toEqual([]);
      const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 10_000 });
      try {
        expect(await api.getConfiguration()).toBe(OLD);
        expect(await api.hostname()).toBe("old-node");
      } finally {
        api.close();
      }
      expect((await sb.stop()).initSignal).toBe("SIGINT");
      const again = await boot(rootfs);
      expect(again.lines.some((l) => /using the stored config/.test(l))).toBe(true);
      expect(again.lines.some((l) => /hostname old-node/.test(l))).toBe(true);
      expect(again.lines.some((l) => /rejected stored config/.test(l))).toBe(false);
      await again.stop();
    }, 180_000);
  }

  test("a try, then a store that fails for want of space: the try still reverts when its time is up", async () => {
    const rootfs = await preparedRootfs(0);
    const sb = await boot(rootfs);
    const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 20_000 });
    try {
      const trial = "version: v1alpha1\nmachine:\n  network:\n    hostname: trial-node\n";
      await api.applyConfiguration({ data: trial, mode: "try", tryTimeoutMs: 1500 });
      expect(await api.hostname()).toBe("trial-node");
      const failed = await api.applyConfiguration({ data: NEW, mode: "no_reboot" }).then(
        () => "stored",
        (e: { code?: number }) => `error ${e.code}`,
      );
      expect(failed).toBe("error 8");
      await Bun.sleep(2500);
      expect(await api.hostname()).toBe("old-node");
      expect(await api.getConfiguration()).toBe(OLD);
    } finally {
      api.close();
    }
    await sb.stop();
  }, 180_000);

  test("with room: the same apply is OK only once the whole file is stored; the next boot uses it", async () => {
    const rootfs = await preparedRootfs(40 * 1024);
    const stored = join(rootfs, STORED_CONFIG_IN_ROOTFS);
    const sb = await boot(rootfs);
    const reply = await applyNew(sb);
    expect(reply).toMatchObject({ ok: true, text: expect.stringMatching(/^stored and applied( \(state in RAM: no install disk, lost at reboot\))?$/) });
    expect(readFileSync(stored, "utf8")).toBe(NEW);
    await sb.stop();
    const again = await boot(rootfs);
    expect(again.lines.some((l) => /hostname new-node/.test(l))).toBe(true);
    await again.stop();
  }, 180_000);
});
