// What a cgroup v2 group uses, read from its files: Talos's container Stats
// take memory and CPU from containerd's cgroup metrics, which are these same
// files (memory.current, cpu.stat usage_usec). Read directly, since minos owns
// the tree and containerd's Metrics payload would need the cgroups stats protos.
//
// When the memory controller is not enabled for the group (the sandbox: this
// host keeps every controller on cgroup v1, DESIGN fact 9) there is no
// memory.current: memory is then the resident set of the group's processes
// (VmRSS from /proc, the group and its descendants), which counts what they map
// rather than what the kernel charged the group (page cache is not in it).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CGROUP_MOUNT } from "./cgroups.ts";

export interface CgroupUsage {
  /** Bytes. */
  memoryBytes: number;
  /** Where memoryBytes came from. */
  memorySource: "memory.current" | "VmRSS";
  /** Nanoseconds of CPU time of the group and its descendants. */
  cpuNanos: number;
}

/** The cgroup v2 path of `pid` ("/system/extra/ext"), from /proc/PID/cgroup's "0::" line; undefined when it is gone. */
export function cgroupOfPid(pid: number, procRoot = "/proc"): string | undefined {
  try {
    const line = readFileSync(join(procRoot, String(pid), "cgroup"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("0::"));
    return line === undefined ? undefined : line.slice(3) || "/";
  } catch {
    return undefined;
  }
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The group directory and every directory below it. */
function groupDirs(dir: string): string[] {
  const out = [dir];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const e of readdirSync(out[i]!, { withFileTypes: true })) if (e.isDirectory()) out.push(join(out[i]!, e.name));
    } catch {}
  }
  return out;
}

function pidsOf(dirs: string[]): number[] {
  const pids: number[] = [];
  for (const d of dirs)
    for (const l of (readOr(join(d, "cgroup.procs")) ?? "").split("\n")) {
      const n = Number(l);
      if (l && Number.isInteger(n)) pids.push(n);
    }
  return pids;
}

/** Resident bytes of the processes (a process gone meanwhile counts 0). */
function rssBytes(pids: number[], procRoot: string): number {
  let kib = 0;
  for (const pid of pids) {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readOr(join(procRoot, String(pid), "status")) ?? "");
    if (m) kib += Number(m[1]);
  }
  return kib * 1024;
}

/** utime + stime of the processes, in ns (USER_HZ is 100 on Linux). */
function procCpuNanos(pids: number[], procRoot: string): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readOr(join(procRoot, String(pid), "stat"));
    if (!stat) continue;
    // Fields after the command (which may hold spaces) start at state: utime is the 12th of them.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
  }
  return ticks * 10_000_000;
}

/**
 * The usage of cgroup `path` (as /proc/PID/cgroup names it) under `mountpoint`.
 * Undefined when the group does not exist (the container is gone).
 */
export function cgroupUsage(path: string, opts: { mountpoint?: string; procRoot?: string } = {}): CgroupUsage | undefined {
  const dir = join(opts.mountpoint ?? CGROUP_MOUNT, path);
  const procRoot = opts.procRoot ?? "/proc";
  if (readOr(join(dir, "cgroup.procs")) === undefined) return undefined;
  const current = readOr(join(dir, "memory.current"));
  // cpu.stat is a core file of every cgroup v2 group (usage_usec there needs no cpu controller).
  const usec = /^usage_usec (\d+)$/m.exec(readOr(join(dir, "cpu.stat")) ?? "");
  let pids: number[] | undefined;
  const allPids = () => (pids ??= pidsOf(groupDirs(dir)));
  return {
    memoryBytes: current !== undefined ? Number(current.trim()) : rssBytes(allPids(), procRoot),
    memorySource: current !== undefined ? "memory.current" : "VmRSS",
    cpuNanos: usec ? Number(usec[1]) * 1000 : procCpuNanos(allPids(), procRoot),
  };
}
