// Loading a kernel module from PID 1 itself: finit_module(2) on an open .ko
// file. Used for the few modules init needs before any process could be
// spawned quickly (the power button's): no modprobe exec, no dependency
// resolution — the caller orders dependencies (from modules.dep).
import { closeSync, openSync } from "node:fs";
import { SysError } from "./errno.ts";
import { cstr, errno, libc, ptr, T } from "./ffi.ts";

const SYS_FINIT_MODULE = 313; // x86-64
const EEXIST = 17;

const sym = libc({
  syscall: { args: [T.i64, T.i64, T.ptr, T.i64], returns: T.i64 },
});

/** Loads the module file at `path`; false when it was already loaded (EEXIST). Throws SysError otherwise. */
export function finitModule(path: string, params = ""): boolean {
  const fd = openSync(path, "r");
  try {
    const p = cstr(params);
    const r = Number(sym().syscall(BigInt(SYS_FINIT_MODULE), BigInt(fd), ptr(p), 0n));
    if (r === 0) return true;
    const e = errno();
    if (e === EEXIST) return false;
    throw new SysError(`finit_module(${path})`, e);
  } finally {
    closeSync(fd);
  }
}
