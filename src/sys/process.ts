// Process and identity calls: kill, waitpid/waitid, setsid, uid/gid/groups,
// execve, the controlling-terminal ioctl, hostname and uname, rlimits.
import { check, cstr, cstrArray, libc, ptr, T } from "./ffi.ts";

const sym = libc({
  kill: { args: [T.i32, T.i32], returns: T.i32 },
  waitpid: { args: [T.i32, T.ptr, T.i32], returns: T.i32 },
  waitid: { args: [T.i32, T.u32, T.ptr, T.i32], returns: T.i32 },
  setsid: { args: [], returns: T.i32 },
  setuid: { args: [T.u32], returns: T.i32 },
  setgid: { args: [T.u32], returns: T.i32 },
  setgroups: { args: [T.u64, T.ptr], returns: T.i32 },
  execve: { args: [T.ptr, T.ptr, T.ptr], returns: T.i32 },
  ioctl: { args: [T.i32, T.u64, T.u64], returns: T.i32 },
  sethostname: { args: [T.ptr, T.u64], returns: T.i32 },
  uname: { args: [T.ptr], returns: T.i32 },
  getrlimit: { args: [T.i32, T.ptr], returns: T.i32 },
  setrlimit: { args: [T.i32, T.ptr], returns: T.i32 },
  getpid: { args: [], returns: T.i32 },
  dup2: { args: [T.i32, T.i32], returns: T.i32 },
});

export const SIG = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGPWR: 30,
} as const;

/** "SIGTERM" for 15; undefined for a number not in SIG. */
export function signalName(n: number): string | undefined {
  return Object.entries(SIG).find(([, v]) => v === n)?.[0];
}

export function kill(pid: number, sig: number): void {
  check(sym().kill(pid, sig), `kill(${pid}, ${sig})`);
}

export function getpid(): number {
  return sym().getpid();
}

export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;
export const P_ALL = 0;
export const P_PID = 1;

/** How a child ended: exit code, or the signal that killed it. */
export type ExitStatus = { code: number; signal: null } | { code: null; signal: number };

export function decodeWaitStatus(status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: sig };
}

/** waitpid(2). Returns null when WNOHANG and nothing is ready; throws ECHILD when there are no children. */
// One status word for every call: PID 1's reaper calls waitpid once per exit
// (10,000 in an orphan storm), and JS is single-threaded, so sharing is safe.
const waitStatus = new Int32Array(1);
export function waitpid(pid: number, options = 0): { pid: number; status: ExitStatus } | null {
  const r = check(sym().waitpid(pid, ptr(waitStatus), options), "waitpid");
  if (r === 0) return null;
  return { pid: r, status: decodeWaitStatus(waitStatus[0]!) };
}

/**
 * waitpid(2) without allocating: the pid whose status was taken (0 when
 * WNOHANG and nothing is ready), its raw status left for lastWaitStatus().
 * For PID 1's reaper, whose orphans' statuses are never looked at.
 */
export function waitpidRaw(pid: number, options = 0): number {
  return check(sym().waitpid(pid, ptr(waitStatus), options), "waitpid");
}

/** The status of the last waitpidRaw() that returned a pid. */
export function lastWaitStatus(): ExitStatus {
  return decodeWaitStatus(waitStatus[0]!);
}

/** waitid(2) (siginfo_t: si_pid at offset 16, si_status at 24, si_code at 8). */
export function waitid(idtype: number, id: number, options: number): { pid: number; code: number; status: number } | null {
  const info = new Int32Array(32); // siginfo_t is 128 bytes
  check(sym().waitid(idtype, id >>> 0, ptr(info), options), "waitid");
  const pid = info[4]!;
  if (pid === 0) return null;
  return { pid, code: info[2]!, status: info[6]! };
}

export function setsid(): number {
  return check(sym().setsid(), "setsid");
}
export function setuid(uid: number): void {
  check(sym().setuid(uid), `setuid(${uid})`);
}
export function setgid(gid: number): void {
  check(sym().setgid(gid), `setgid(${gid})`);
}
export function setgroups(gids: readonly number[]): void {
  const arr = new Uint32Array(Math.max(gids.length, 1));
  gids.forEach((g, i) => (arr[i] = g));
  check(sym().setgroups(BigInt(gids.length), ptr(arr)), "setgroups");
}

/** execve(2): only returns by throwing. */
export function execve(path: string, argv: readonly string[], env: readonly string[]): never {
  const p = cstr(path);
  const a = cstrArray(argv);
  const e = cstrArray(env);
  check(sym().execve(ptr(p), a.pointer, e.pointer), `execve(${path})`);
  throw new Error("execve returned without error"); // unreachable: execve returns only -1
}

export const TIOCSCTTY = 0x540e;
/** Make `fd` (a tty) the controlling terminal of this session leader. */
export function setControllingTty(fd: number, steal = false): void {
  check(sym().ioctl(fd, BigInt(TIOCSCTTY), steal ? 1n : 0n), "ioctl(TIOCSCTTY)");
}

export function dup2(from: number, to: number): void {
  check(sym().dup2(from, to), `dup2(${from}, ${to})`);
}

export function sethostname(name: string): void {
  const b = Buffer.from(name, "utf8");
  check(sym().sethostname(ptr(b.length ? b : Buffer.alloc(1)), BigInt(b.length)), "sethostname");
}

/** struct utsname on Linux: six NUL-padded fields of 65 bytes (sysname … domainname). */
const UTS_FIELD = 65;

export interface Uname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
}

/** uname(2): the kernel's name, the hostname and the kernel release (what node:os would load a module for). */
export function uname(): Uname {
  const b = Buffer.alloc(6 * UTS_FIELD);
  check(sym().uname(ptr(b)), "uname");
  const field = (i: number) => {
    const f = b.subarray(i * UTS_FIELD, (i + 1) * UTS_FIELD);
    const end = f.indexOf(0);
    return f.subarray(0, end < 0 ? f.length : end).toString("utf8");
  };
  return { sysname: field(0), nodename: field(1), release: field(2), version: field(3), machine: field(4) };
}

export const RLIMIT = {
  CPU: 0,
  FSIZE: 1,
  DATA: 2,
  STACK: 3,
  CORE: 4,
  RSS: 5,
  NPROC: 6,
  NOFILE: 7,
  MEMLOCK: 8,
  AS: 9,
  LOCKS: 10,
  SIGPENDING: 11,
  MSGQUEUE: 12,
  NICE: 13,
  RTPRIO: 14,
  RTTIME: 15,
} as const;
export type RlimitName = keyof typeof RLIMIT;
/** RLIM_INFINITY as a bigint. */
export const RLIM_INFINITY = 0xffffffffffffffffn;

export interface Rlimit {
  soft: bigint;
  hard: bigint;
}

export function getrlimit(resource: number): Rlimit {
  const buf = new BigUint64Array(2);
  check(sym().getrlimit(resource, ptr(buf)), "getrlimit");
  return { soft: buf[0]!, hard: buf[1]! };
}

export function setrlimit(resource: number, limit: Rlimit): void {
  const buf = new BigUint64Array([limit.soft, limit.hard]);
  const name = Object.entries(RLIMIT).find(([, v]) => v === resource)?.[0] ?? String(resource);
  check(sym().setrlimit(resource, ptr(buf)), `setrlimit(RLIMIT_${name})`);
}
