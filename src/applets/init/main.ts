// init applet: PID 1. The boot, supervision and shutdown live in src/init; this
// file is the entrypoint: flags, the PID-1 guard and the runtime self-check the
// boot-shim test uses.
import type { Io } from "../../lib/io.ts";
import { existsSync } from "node:fs";

export const USAGE = `usage: init [--check-runtime]
  (no flags)       boot the node; only as PID 1 (the kernel's init, or the
                   sandbox: unshare --pid --fork ... chroot rootfs /sbin/init)
  --check-runtime  report pid, whether procfs is mounted and whether deep
                   recursion ends in a RangeError, then exit (boot-shim test)
`;

function recurse(n: number): number {
  return recurse(n + 1) + 1;
}

/** Proves the JS engine knows sane stack bounds: unbounded recursion must throw RangeError. */
export function checkRuntime(): { pid: number; procMounted: boolean; recursion: string } {
  let recursion = "returned";
  try {
    recurse(0);
  } catch (e) {
    recursion = e instanceof RangeError ? "RangeError" : String(e);
  }
  return { pid: process.pid, procMounted: existsSync("/proc/self/stat"), recursion };
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(USAGE);
    return 0;
  }
  if (argv.includes("--check-runtime")) {
    io.stdout(JSON.stringify(checkRuntime()) + "\n");
    return 0;
  }
  // Other arguments are ignored: the kernel passes init the cmdline words it does not know.
  // Not PID 1, init would mount, set the hostname and kill(-1) on whatever host it runs on.
  if (process.pid !== 1) {
    io.stderr("init: refusing to boot: not PID 1 (run it in the sandbox: bun scripts/start.ts)\n");
    return 1;
  }
  const { runInit } = await import("../../init/main.ts");
  return runInit(io);
}
