// poweroff/shutdown as the built binary, without a node: the -f escape hatch
// and the bad-input / unreachable paths. Needs `bun run build` and root.
//
// SAFETY: `poweroff -f` calls reboot(2), which outside a PID namespace powers
// off THIS HOST. Every run of the binary here goes through inFreshPidNs(), so
// the kernel turns reboot(2) into a signal to the namespace's init instead.
import { describe, expect, test } from "bun:test";
import { existsSync, readlinkSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SBIN = join(ROOT, "dist/rootfs/sbin");
const canRun = process.getuid?.() === 0 && existsSync(join(SBIN, "poweroff"));

/** The only way these tests start the binary: as a child of a fresh PID namespace. */
function inFreshPidNs(argv: string[]): string[] {
  return ["unshare", "--pid", "--fork", "--kill-child", ...argv];
}

interface Run {
  /** Exit code, or 128+signal when the namespace's init died by a signal (as a shell reports it). */
  code: number;
  signal: string | null;
  out: string;
  err: string;
}

const SIGNUM: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Second lock: the binary itself refuses reboot(2) in the initial PID namespace. */
const INTERLOCK = "MINOS_REBOOT_ONLY_IN_PIDNS=1";

function run(argv: string[], env: Record<string, string> = {}): Run {
  const p = Bun.spawnSync(inFreshPidNs(argv), {
    env: { MINOS_REBOOT_ONLY_IN_PIDNS: "1", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  const signal: string | null = p.signalCode ? String(p.signalCode) : null;
  return {
    code: p.exitCode ?? 128 + (SIGNUM[signal ?? ""] ?? 0),
    signal,
    out: p.stdout.toString(),
    err: p.stderr.toString(),
  };
}

// Prerequisites (root, a built dist/rootfs, nsenter) are CI's: missing ones fail, never skip.
test("prerequisites: root, dist/rootfs built, nsenter present", () => {
  expect(canRun).toBe(true);
});

describe("poweroff -f in a PID namespace", () => {
  test("as the namespace's init: reboot(POWER_OFF) ends it by SIGINT", () => {
    const r = run([join(SBIN, "poweroff"), "-f"]);
    expect(r.out).toContain("poweroff: forcing poweroff now: sync, then reboot(2), without init");
    expect(r.code).toBe(130);
  });

  test("-f -r: reboot(RESTART) ends it by SIGHUP", () => {
    expect(run([join(SBIN, "poweroff"), "-f", "-r", "-n"]).code).toBe(129);
  });

  test("-f --halt: SIGINT", () => {
    expect(run([join(SBIN, "poweroff"), "--halt", "-f"]).code).toBe(130);
  });

  test("from a process under the namespace's init, with env -i and the socket gone", () => {
    // sh stands in for init: reboot(2) from its child must kill sh, so "alive" is never printed.
    const script = `${join(SBIN, "poweroff")} -f </dev/null >/dev/null 2>&1; echo alive; sleep 5`;
    const r = run(["env", "-i", INTERLOCK, "MINOS_SOCKET=/nonexistent/machine.sock", "/bin/sh", "-c", script]);
    expect(r.out).not.toContain("alive");
    expect(r.code).toBe(130);
  });

  test("run from source (bun, not the compiled binary), the real reboot(2) is refused", () => {
    // The guard that keeps an in-process test from powering off the host. Run it
    // in a namespace too: if the guard were broken this ends in 130, not the host.
    const src = `import { main } from ${JSON.stringify(join(ROOT, "src/applets/power/main.ts"))};
      import { processIo } from ${JSON.stringify(join(ROOT, "src/lib/io.ts"))};
      process.exit(await main(["-f", "-n"], processIo(), "poweroff"));`;
    const r = run([process.execPath, "-e", src]);
    expect(r.err).toContain("refusing reboot(2) outside the compiled minos binary");
    expect(r.code).toBe(1);
  });
});

test("the interlock refuses reboot(2) in the initial PID namespace", async () => {
  // Pure check, no reboot(2) involved: valid only where the tests run in the host's namespace.
  const { checkPidNs } = await import("../../src/applets/power/main.ts");
  if (readlinkSync("/proc/self/ns/pid") === "pid:[4026531836]") expect(() => checkPidNs()).toThrow(/initial PID namespace: refusing/);
  else expect(() => checkPidNs()).not.toThrow();
});

describe("bad input and unreachable init, as the binary", () => {
  test("poweroff with no socket: one line naming it and suggesting -f, exit 1", () => {
    const r = run(["env", "-i", "MINOS_SOCKET=/nonexistent/machine.sock", join(SBIN, "poweroff")]);
    expect(r.err).toBe("poweroff: cannot reach init at /nonexistent/machine.sock: no such socket; `poweroff -f` works without init\n");
    expect(r.code).toBe(1);
  });

  test("default socket path is the node's", () => {
    // No /system on the host: unreachable, and the message shows the default path.
    const r = run(["env", "-i", join(SBIN, "shutdown"), "-r", "now"]);
    expect(r.err).toContain("cannot reach init at /system/run/machined/machine.sock");
    expect(r.code).toBe(1);
  });

  for (const [name, argv] of [
    ["poweroff", ["-w"]],
    ["poweroff", ["--bogus"]],
    ["shutdown", ["-w"]],
    ["shutdown", ["later"]],
    ["shutdown", ["25:00"]],
  ] as [string, string[]][]) {
    test(`${name} ${argv.join(" ")}: one usage line, exit 1`, () => {
      const r = run([join(SBIN, name), ...argv], { MINOS_SOCKET: "/nonexistent/machine.sock" });
      expect(r.err.split("\n")).toEqual([expect.stringContaining(`(usage: ${name} `), ""]);
      expect(r.out).toBe("");
      expect(r.code).toBe(1);
    });
  }
});
