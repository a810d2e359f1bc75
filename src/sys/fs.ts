// Filesystem calls node:fs does not offer: mknod(2) for the device nodes a
// sandbox's tmpfs /dev needs, umask(2), and syncfs(2).
import { check, cstr, libc, ptr, T } from "./ffi.ts";

const sym = libc({
  mknod: { args: [T.ptr, T.u32, T.u64], returns: T.i32 },
  umask: { args: [T.u32], returns: T.u32 },
});

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** glibc's makedev(): the 64-bit dev_t of (major, minor). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

/** mknod(2) of a character device with permission bits `perm`. */
export function mknodChar(path: string, perm: number, major: number, minor: number): void {
  const p = cstr(path);
  check(sym().mknod(ptr(p), S_IFCHR | perm, makedev(major, minor)), `mknod(${path})`);
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return sym().umask(mask);
}
