// mkfifo(3): the named pipes a container's stdout and stderr are copied into
// by the containerd shim (Node has no binding for it).
import { check, cstr, libc, T } from "./ffi.ts";

const sym = libc({
  mkfifo: { args: [T.ptr, T.u32], returns: T.i32 },
});

/** Creates a FIFO at `path` (mode before umask); throws SysError (EEXIST when something is there). */
export function mkfifo(path: string, mode = 0o600): void {
  const p = cstr(path);
  check(sym().mkfifo(p, mode), `mkfifo(${path})`);
}
