// posix_spawn(3): how init starts every child. init never uses Bun.spawn, so
// that the reaper's waitpid(-1) is the single owner of every exit status
// (README, "Design notes": one owner of exit statuses): Bun tracks the children it spawns itself and would race
// a blind reaper for them. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK),
// which is safe from a multi-threaded process such as the Bun runtime.
import { check, cstr, cstrArray, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  posix_spawn: { args: [T.ptr, T.ptr, T.ptr, T.ptr, T.ptr, T.ptr], returns: T.i32 },
  posix_spawnattr_init: { args: [T.ptr], returns: T.i32 },
  posix_spawnattr_setflags: { args: [T.ptr, T.i16], returns: T.i32 },
  posix_spawnattr_setsigmask: { args: [T.ptr, T.ptr], returns: T.i32 },
  posix_spawnattr_setsigdefault: { args: [T.ptr, T.ptr], returns: T.i32 },
  posix_spawnattr_destroy: { args: [T.ptr], returns: T.i32 },
  posix_spawn_file_actions_init: { args: [T.ptr], returns: T.i32 },
  posix_spawn_file_actions_adddup2: { args: [T.ptr, T.i32, T.i32], returns: T.i32 },
  posix_spawn_file_actions_addopen: { args: [T.ptr, T.i32, T.ptr, T.i32, T.u32], returns: T.i32 },
  posix_spawn_file_actions_addchdir_np: { args: [T.ptr, T.ptr], returns: T.i32 },
  posix_spawn_file_actions_destroy: { args: [T.ptr], returns: T.i32 },
  sigemptyset: { args: [T.ptr], returns: T.i32 },
  sigfillset: { args: [T.ptr], returns: T.i32 },
  pipe2: { args: [T.ptr, T.i32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
});

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;

/** A child's standard stream: an fd of ours to dup2 onto it, or /dev/null. */
export type Stdio = number | "null";

export interface SpawnOptions {
  path: string;
  argv: readonly string[];
  env: readonly string[];
  stdin?: Stdio;
  stdout?: Stdio;
  stderr?: Stdio;
  /** Start the child in a new session (no controlling terminal, own process group). */
  setsid?: boolean;
  cwd?: string;
}

/** Starts a child and returns its pid. The caller must reap it (see init's reaper). */
export function spawn(opts: SpawnOptions): number {
  const s = sym();
  const attr = new Uint8Array(336); // sizeof(posix_spawnattr_t) on x86-64 glibc
  const actions = new Uint8Array(80); // sizeof(posix_spawn_file_actions_t)
  const empty = new Uint8Array(128); // sigset_t
  const all = new Uint8Array(128);
  s.sigemptyset(ptr(empty));
  s.sigfillset(ptr(all));
  s.posix_spawnattr_init(ptr(attr));
  s.posix_spawn_file_actions_init(ptr(actions));
  const keep: Buffer[] = [];
  try {
    // The child must not inherit the runtime's blocked or ignored signals.
    let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (opts.setsid) flags |= POSIX_SPAWN_SETSID;
    s.posix_spawnattr_setflags(ptr(attr), flags);
    s.posix_spawnattr_setsigmask(ptr(attr), ptr(empty));
    s.posix_spawnattr_setsigdefault(ptr(attr), ptr(all));
    const streams: [number, Stdio | undefined, number][] = [
      [0, opts.stdin, O_RDONLY],
      [1, opts.stdout, O_WRONLY],
      [2, opts.stderr, O_WRONLY],
    ];
    for (const [target, io, mode] of streams) {
      if (io === undefined) continue;
      if (io === "null") {
        const devnull = cstr("/dev/null");
        keep.push(devnull);
        s.posix_spawn_file_actions_addopen(ptr(actions), target, ptr(devnull), mode, 0);
      } else {
        s.posix_spawn_file_actions_adddup2(ptr(actions), io, target);
      }
    }
    if (opts.cwd) {
      const cwd = cstr(opts.cwd);
      keep.push(cwd);
      s.posix_spawn_file_actions_addchdir_np(ptr(actions), ptr(cwd));
    }
    const path = cstr(opts.path);
    const argv = cstrArray(opts.argv);
    const env = cstrArray(opts.env);
    const pid = new Int32Array(1);
    // posix_spawn returns the error number instead of setting errno.
    const err = s.posix_spawn(ptr(pid), ptr(path), ptr(actions), ptr(attr), argv.pointer, env.pointer);
    if (err !== 0) throw new SysError(`posix_spawn(${opts.path})`, err);
    return pid[0]!;
  } finally {
    s.posix_spawn_file_actions_destroy(ptr(actions));
    s.posix_spawnattr_destroy(ptr(attr));
  }
}

/** pipe2(O_CLOEXEC): [readEnd, writeEnd]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  check(sym().pipe2(ptr(fds), O_CLOEXEC), "pipe2");
  return [fds[0]!, fds[1]!];
}

export function close(fd: number): void {
  check(sym().close(fd), `close(${fd})`);
}
