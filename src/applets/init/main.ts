// init applet: PID 1. (Boot sequence lands with the init issue; for now only
// the runtime self-check the boot-shim test uses.)
import type { Io } from "../../lib/io.ts";
import { existsSync } from "node:fs";

export const USAGE = `usage: init [--check-runtime]
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
  io.stderr("init: boot sequence not implemented yet\n");
  return 1;
}
