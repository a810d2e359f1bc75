// prctl(2) operations init and wrapperd use. prctl is variadic in C; on x86-64
// calling it with five unsigned longs is the ABI-correct way to pass any subset.
import { check, cstr, libc, ptr, T } from "./ffi.ts";

export const PR = {
  SET_NAME: 15,
  GET_NAME: 16,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_KEEPCAPS: 8,
  GET_KEEPCAPS: 7,
  SET_CHILD_SUBREAPER: 36,
  GET_CHILD_SUBREAPER: 37,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  CAP_AMBIENT: 47,
} as const;

export const CAP_AMBIENT = { IS_SET: 1, RAISE: 2, LOWER: 3, CLEAR_ALL: 4 } as const;

const sym = libc({
  prctl: { args: [T.i32, T.u64, T.u64, T.u64, T.u64], returns: T.i32 },
});

function prctl(op: number, a = 0n, b = 0n, c = 0n, d = 0n): number {
  return check(sym().prctl(op, a, b, c, d), `prctl(${opName(op)})`);
}

function opName(op: number): string {
  return Object.entries(PR).find(([, v]) => v === op)?.[0] ?? String(op);
}

export function setNoNewPrivs(): void {
  prctl(PR.SET_NO_NEW_PRIVS, 1n);
}
export function getNoNewPrivs(): boolean {
  return prctl(PR.GET_NO_NEW_PRIVS) === 1;
}
/** Is capability `cap` in the calling thread's bounding set? */
export function capbsetRead(cap: number): boolean {
  return prctl(PR.CAPBSET_READ, BigInt(cap)) === 1;
}
export function capbsetDrop(cap: number): void {
  prctl(PR.CAPBSET_DROP, BigInt(cap));
}
export function ambientClearAll(): void {
  prctl(PR.CAP_AMBIENT, BigInt(CAP_AMBIENT.CLEAR_ALL));
}
export function ambientRaise(cap: number): void {
  prctl(PR.CAP_AMBIENT, BigInt(CAP_AMBIENT.RAISE), BigInt(cap));
}
export function ambientIsSet(cap: number): boolean {
  return prctl(PR.CAP_AMBIENT, BigInt(CAP_AMBIENT.IS_SET), BigInt(cap)) === 1;
}
export function setChildSubreaper(on = true): void {
  prctl(PR.SET_CHILD_SUBREAPER, on ? 1n : 0n);
}
export function setKeepCaps(on: boolean): void {
  prctl(PR.SET_KEEPCAPS, on ? 1n : 0n);
}
/** The thread name shown in /proc/self/comm (truncated by the kernel to 15 bytes). */
export function setName(name: string): void {
  const b = cstr(name);
  prctl(PR.SET_NAME, BigInt(ptr(b)));
}
