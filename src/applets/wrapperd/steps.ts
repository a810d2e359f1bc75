// The preparation steps other than capabilities, each small and throwing on
// failure (SysError naming the call and errno), so main() can abort before exec.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { SysError } from "../../sys/errno.ts";
import { dup2, getpid, setControllingTty, setgid, setgroups, setrlimit, setsid, setuid } from "../../sys/process.ts";
import { setNoNewPrivs } from "../../sys/prctl.ts";
import { close as closeFd } from "../../sys/spawn.ts";
import { getsid, isatty, open, O_RDWR } from "../../sys/tty.ts";
import type { Plan, RlimitRequest } from "./flags.ts";

/** Where cgroup v2 is mounted on a node (as in Talos); --cgroup-path is relative to it. */
export const CGROUP_ROOT = "/sys/fs/cgroup";

/** Turns a node:fs error into the SysError every other step throws. */
function fsCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).errno;
    if (typeof errno === "number") throw new SysError(what, Math.abs(errno));
    throw e;
  }
}

/**
 * New session with `path` as controlling terminal and fds 0-2. init starts
 * wrapperd already as a session leader (posix_spawn SETSID); then setsid would
 * fail with EPERM, and is not needed.
 */
export function takeTty(path: string): void {
  if (getsid(0) !== getpid()) setsid();
  const fd = open(path, O_RDWR);
  try {
    if (!isatty(fd)) throw new Error(`${path} is not a terminal`);
    setControllingTty(fd);
    for (const target of [0, 1, 2]) dup2(fd, target);
  } finally {
    if (fd > 2) closeFd(fd);
  }
}

/** Lowering the score needs CAP_SYS_RESOURCE, hence first, while every cap is there. */
export function setOomScore(score: number): void {
  fsCall("write(/proc/self/oom_score_adj)", () => writeFileSync("/proc/self/oom_score_adj", `${score}\n`, { flag: "r+" }));
}

/**
 * Joins (creating it if missing) a cgroup v2 below CGROUP_ROOT. Early, so the
 * cgroup accounts for the service from its first allocation, and while we may
 * still write root-owned cgroup files. Refuses when CGROUP_ROOT is not cgroup v2:
 * on a hybrid host it is a tmpfs, where mkdir would "succeed" and create plain
 * directories and files instead of a cgroup.
 */
export function joinCgroup(path: string, root = CGROUP_ROOT): void {
  if (!existsSync(`${root}/cgroup.controllers`)) {
    throw new Error(`--cgroup-path: ${root} is not a cgroup v2 mount (no cgroup.controllers)`);
  }
  const dir = root + path;
  fsCall(`mkdir(${dir})`, () => mkdirSync(dir, { recursive: true }));
  // r+ never creates: a missing cgroup.procs must fail, not become a regular file.
  fsCall(`write(${dir}/cgroup.procs)`, () => writeFileSync(`${dir}/cgroup.procs`, `${getpid()}\n`, { flag: "r+" }));
}

/** Raising a hard limit needs CAP_SYS_RESOURCE, hence before the capability drop. */
export function setRlimits(limits: readonly RlimitRequest[]): void {
  for (const r of limits) setrlimit(r.resource, r.limit);
}

/** Whether the identity step changes anything (and so needs CAP_SETUID/SETGID). */
export function changesIdentity(plan: Plan): boolean {
  return plan.uid !== null || plan.gid !== null || plan.groups !== null;
}

/**
 * Supplementary groups, then gid, then uid: once uid is not 0, the process may
 * no longer change its groups. A uid/gid switch without --groups clears the
 * supplementary groups, so a service never keeps root's.
 */
export function setIdentity(plan: Plan): void {
  if (!changesIdentity(plan)) return;
  setgroups(plan.groups ?? []);
  if (plan.gid !== null) setgid(plan.gid);
  if (plan.uid !== null) setuid(plan.uid);
}

/** After the uid switch, so the service can only start in a directory it may enter. */
export function enterCwd(dir: string): void {
  fsCall(`chdir(${dir})`, () => process.chdir(dir));
}

/** Last before exec: no_new_privs only matters to execve (setuid binaries, file caps). */
export function noNewPrivs(): void {
  setNoNewPrivs();
}
