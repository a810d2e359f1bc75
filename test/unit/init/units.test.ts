// Small pure pieces of init: restart backoff, sysctl classification for the
// sandbox, mountinfo parsing, the power button's key bitmap and input events,
// the containerd health reply, and wrapperd's command line for a service.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { namespaced, sysctlPath } from "../../../src/init/phases/kernel.ts";
import { CgroupTree, ownCgroup } from "../../../src/init/mechanisms/cgroups.ts";
import { mountTable } from "../../../src/init/mechanisms/mounts.ts";
import { Power } from "../../../src/init/power.ts";
import { alarmAt } from "../../../src/lib/timers.ts";
import { hasKey, KEY_POWER, watchPowerButton } from "../../../src/init/mechanisms/power-button.ts";
import { decodeHealthStatus } from "../../../src/init/supervisor/health.ts";
import { commandLine } from "../../../src/init/supervisor/launch.ts";
import { backoffDelay, serviceSpec } from "../../../src/init/supervisor/spec.ts";

describe("init pieces", () => {
  test("restart backoff doubles from the initial delay up to the cap", () => {
    const b = { initialMs: 250, maxMs: 30_000 };
    expect([1, 2, 3, 4, 5, 8, 9, 50].map((n) => backoffDelay(n, b))).toEqual([250, 500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  });

  test("the sandbox writes only namespaced sysctls", () => {
    expect(namespaced("net.ipv4.ip_forward")).toBe(true);
    expect(namespaced("kernel.hostname")).toBe(true);
    for (const k of ["kernel.kptr_restrict", "vm.overcommit_memory", "fs.protected_symlinks"]) expect(namespaced(k)).toBe(false);
    expect(sysctlPath("net.ipv4.conf.all.forwarding")).toBe("/proc/sys/net/ipv4/conf/all/forwarding");
  });

  test("mountinfo parsing keeps order and unescapes paths", () => {
    const text = [
      "22 1 0:21 / /proc rw,nosuid - proc proc rw",
      "23 1 0:22 / /my\\040dir rw - tmpfs tmpfs rw",
      "24 23 0:23 / /my\\040dir/sub rw shared:1 - tmpfs tmpfs rw",
    ].join("\n");
    expect(mountTable(text).map((m) => `${m.target}:${m.fstype}`)).toEqual(["/proc:proc", "/my dir:tmpfs", "/my dir/sub:tmpfs"]);
  });

  test("the cgroup tree hangs off init's own cgroup", () => {
    expect(ownCgroup("1:cpu:/\n0::/minos-sandbox-1-2\n")).toBe("/minos-sandbox-1-2");
    expect(ownCgroup("0::/\n")).toBe("/");
    const t = new CgroupTree("/minos-sandbox-1-2");
    expect(t.path("system/runtime")).toBe("/minos-sandbox-1-2/system/runtime");
    expect(t.dir("init")).toBe("/sys/fs/cgroup/minos-sandbox-1-2/init");
  });

  test("services start through wrapperd with their cgroup, caps and oom score", () => {
    const spec = serviceSpec({
      id: "containerd",
      command: ["/bin/containerd", "-a", "x"],
      cgroup: "system/runtime",
      oomScore: -999,
      droppedCaps: ["CAP_SYS_BOOT"],
    });
    const cgroups = new CgroupTree("/n");
    expect(commandLine(spec, { cgroups, viaWrapperd: true, canLowerOomScore: true })).toEqual([
      "/sbin/wrapperd",
      "--name=containerd",
      "--cgroup-path=/n/system/runtime",
      "--oom-score=-999",
      "--dropped-caps=CAP_SYS_BOOT",
      "--",
      "/bin/containerd",
      "-a",
      "x",
    ]);
    expect(commandLine(spec, { cgroups, viaWrapperd: true, canLowerOomScore: false })).not.toContain("--oom-score=-999");
    expect(commandLine(spec, { cgroups, viaWrapperd: false, canLowerOomScore: true })).toEqual(["/bin/containerd", "-a", "x"]);
  });

  test("grpc.health.v1 replies decode to their serving status", () => {
    expect(decodeHealthStatus(Buffer.from([0x08, 0x01]))).toBe(1);
    expect(decodeHealthStatus(Buffer.from([0x08, 0x02]))).toBe(2);
    expect(decodeHealthStatus(Buffer.alloc(0))).toBe(0);
  });

  test("the power button: KEY_POWER in a sysfs key bitmap, and presses read from input events", async () => {
    // An ACPI power button's bitmap: bit 116 lives in the second 64-bit word.
    expect(hasKey("10000000000000 0", KEY_POWER)).toBe(true);
    expect(hasKey("0 0", KEY_POWER)).toBe(false);
    expect(hasKey("10000000000000", KEY_POWER)).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "minos-input-"));
    try {
      const event = (type: number, code: number, value: number) => {
        const b = Buffer.alloc(24);
        b.writeUInt16LE(type, 16);
        b.writeUInt16LE(code, 18);
        b.writeInt32LE(value, 20);
        return b;
      };
      // press, release, another key, press: two presses
      writeFileSync(join(dir, "event0"), Buffer.concat([event(1, 116, 1), event(1, 116, 0), event(1, 30, 1), event(0, 0, 0), event(1, 116, 1)]));
      let presses = 0;
      await watchPowerButton(join(dir, "event0"), () => presses++);
      expect(presses).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a shutdown scheduled beyond the 2^31-1 ms timer limit (~24.8 days) stays pending instead of firing at once", async () => {
    let ran = 0;
    const logged: string[] = [];
    const power = new Power({
      sequencer: { assertCanRun: () => {} },
      run: () => (ran++, Promise.resolve()),
      events: { emit: () => {} },
      log: { info: (m: string) => logged.push(m), warn: () => {}, error: (m: string) => logged.push(m) },
    });
    const at = new Date(Date.now() + 40_000 * 60_000); // shutdown +40000 (minutes): ~27.8 days
    power.schedule({ action: "poweroff", at, message: "far away" });
    try {
      await Bun.sleep(200);
      expect(ran).toBe(0);
      expect(logged.some((l) => l.includes("requested"))).toBe(false);
      expect(power.current()?.at).toEqual(at);
    } finally {
      power.cancel();
    }
    // The helper still fires a near time, asynchronously.
    let fired = 0;
    alarmAt(Date.now() + 20, () => fired++);
    expect(fired).toBe(0);
    await Bun.sleep(100);
    expect(fired).toBe(1);
  });
});
