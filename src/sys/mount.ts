// mount(2) / umount2(2) with the flag names of <sys/mount.h>.
import { check, cstr, libc, ptr, T } from "./ffi.ts";

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
} as const;

export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;

const sym = libc({
  mount: { args: [T.ptr, T.ptr, T.ptr, T.u64, T.ptr], returns: T.i32 },
  umount2: { args: [T.ptr, T.i32], returns: T.i32 },
});

export function mount(source: string, target: string, fstype: string | null, flags = 0, data: string | null = null): void {
  const s = cstr(source);
  const t = cstr(target);
  const f = fstype === null ? null : cstr(fstype);
  const d = data === null ? null : cstr(data);
  check(sym().mount(ptr(s), ptr(t), f && ptr(f), BigInt(flags), d && ptr(d)), `mount(${target})`);
}

export function umount(target: string, flags = 0): void {
  const t = cstr(target);
  check(sym().umount2(ptr(t), flags), `umount2(${target})`);
}
