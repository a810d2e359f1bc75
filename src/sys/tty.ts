// Terminals: open(2) a tty without O_CLOEXEC (it becomes fds 0-2 of a service),
// session queries, isatty, and a pseudo-terminal pair (posix_openpt) so tests can
// give a process a real tty to take as its controlling terminal.
import { check, cstr, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  open: { args: [T.ptr, T.i32, T.u32], returns: T.i32 },
  getsid: { args: [T.i32], returns: T.i32 },
  isatty: { args: [T.i32], returns: T.i32 },
  posix_openpt: { args: [T.i32], returns: T.i32 },
  grantpt: { args: [T.i32], returns: T.i32 },
  unlockpt: { args: [T.i32], returns: T.i32 },
  ptsname_r: { args: [T.i32, T.ptr, T.u64], returns: T.i32 },
});

import { close, O_RDWR } from "./spawn.ts";

export { O_RDWR };
export const O_NOCTTY = 0o400;

/** open(2) with raw flags; the fd is the caller's to close. */
export function open(path: string, flags: number, mode = 0): number {
  const p = cstr(path);
  return check(sym().open(ptr(p), flags, mode), `open(${path})`);
}

/** The session id of `pid` (0 = the caller). */
export function getsid(pid = 0): number {
  return check(sym().getsid(pid), "getsid");
}

/** isatty(3): false for any non-terminal (ENOTTY, EINVAL) and bad fds alike. */
export function isatty(fd: number): boolean {
  return sym().isatty(fd) === 1;
}

/** A new pseudo-terminal: the master fd (O_NOCTTY) and the slave's /dev/pts path. */
export function openPty(): { master: number; slave: string } {
  const s = sym();
  const master = check(s.posix_openpt(O_RDWR | O_NOCTTY), "posix_openpt");
  try {
    check(s.grantpt(master), "grantpt");
    check(s.unlockpt(master), "unlockpt");
    const buf = Buffer.alloc(128);
    // ptsname_r returns the error number rather than setting errno.
    const err = s.ptsname_r(master, ptr(buf), BigInt(buf.length));
    if (err !== 0) throw new SysError("ptsname_r", err);
    return { master, slave: buf.toString("utf8", 0, buf.indexOf(0)) };
  } catch (e) {
    close(master);
    throw e;
  }
}
