// Row 5: how long PID 1 takes to reap an orphan storm. The same static
// bench/c/orphans.c runs as a child of each init inside a fresh PID namespace:
// tini (`tini -s -- orphans`), busybox init (inittab sysinit entry) and minos
// (entered into a booted sandbox node with nsenter).
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { summarize, type Summary } from "../stats.ts";
import { cProgram } from "../tools.ts";

export interface StormResult {
  orphans: number;
  fork_ms: number;
  total_ms: number;
  drain_ms: number;
  init_cpu_ms: number;
}

function parse(out: string, who: string): StormResult {
  const line = out.split("\n").find((l) => l.startsWith('{"orphans"'));
  if (!line) throw new Error(`bench: ${who} orphan storm printed no result:\n${out}`);
  return JSON.parse(line) as StormResult;
}

export function stormUnderTini(tini: string, n: number): StormResult {
  const orphans = cProgram("orphans");
  const r = Bun.spawnSync(["unshare", "--pid", "--fork", "--mount-proc", tini, "-s", "--", orphans, String(n)], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bench: tini storm failed: ${r.stderr.toString()}`);
  return parse(r.stdout.toString(), "tini");
}

/**
 * busybox init as PID 1 of a new PID + mount namespace, in a chroot holding only
 * busybox, the orphans program and an inittab whose sysinit runs the storm and
 * writes the result. The harness kills the namespace's init afterwards (never
 * poweroff: nothing here calls reboot(2)).
 */
export async function stormUnderBusybox(busybox: string, n: number): Promise<StormResult> {
  const orphans = cProgram("orphans");
  const root = mkdtempSync("/tmp/minos-bench-bb-");
  try {
    for (const d of ["bin", "etc", "proc", "dev", "out"]) Bun.spawnSync(["mkdir", "-p", `${root}/${d}`]);
    Bun.spawnSync(["cp", busybox, `${root}/bin/busybox`]);
    Bun.spawnSync(["cp", orphans, `${root}/bin/orphans`]);
    Bun.spawnSync(["ln", "-s", "busybox", `${root}/bin/sh`]);
    writeFileSync(`${root}/etc/inittab`, `::sysinit:/bin/busybox mount -t proc proc /proc\n::sysinit:/bin/sh -c '/bin/orphans ${n} > /out/result 2>&1'\n`);
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount", "chroot", root, "/bin/busybox", "init"], {
      stdout: "ignore",
      stderr: "ignore",
      stdin: "ignore",
    });
    const deadline = Date.now() + 120_000;
    while (!(existsSync(`${root}/out/result`) && readFileSync(`${root}/out/result`, "utf8").includes("}"))) {
      if (Date.now() > deadline) break;
      await Bun.sleep(50);
    }
    // Kill the namespace: SIGKILL to unshare's child (PID 1 inside) ends every process in it.
    const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const k of kids) process.kill(Number(k), "SIGKILL");
    await proc.exited;
    return parse(readFileSync(`${root}/out/result`, "utf8"), "busybox init");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export function summarizeStorms(rs: StormResult[]): { total: Summary; initCpu: Summary } {
  return { total: summarize(rs.map((r) => r.total_ms)), initCpu: summarize(rs.map((r) => r.init_cpu_ms)) };
}
