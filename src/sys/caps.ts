// Linux capabilities: the name <-> number table (capability.h, CAP_CHOWN ..
// CAP_CHECKPOINT_RESTORE) and capget/capset with _LINUX_CAPABILITY_VERSION_3,
// whose two 32-bit data structs make 64-bit sets.
import { readFileSync } from "node:fs";
import { check, libc, ptr, T } from "./ffi.ts";

export const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

export type CapName = (typeof CAPABILITIES)[number];
export const CAP_LAST_CAP = CAPABILITIES.length - 1; // 40

/** "sys_admin", "CAP_SYS_ADMIN", "Sys_Admin" -> 21; undefined when unknown. */
export function capNumber(name: string): number | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  const i = (CAPABILITIES as readonly string[]).indexOf(full);
  return i < 0 ? undefined : i;
}

export function capName(n: number): string {
  return CAPABILITIES[n] ?? `CAP_${n}`;
}

/** A 64-bit capability set as a bigint bit mask. */
export type CapSet = bigint;

export function capBit(n: number): CapSet {
  return 1n << BigInt(n);
}

/** Names of the bits set in a mask, lowest first. */
export function capNames(set: CapSet): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (set & capBit(i)) out.push(capName(i));
  return out;
}

export interface CapState {
  effective: CapSet;
  permitted: CapSet;
  inheritable: CapSet;
}

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

const sym = libc({
  capget: { args: [T.ptr, T.ptr], returns: T.i32 },
  capset: { args: [T.ptr, T.ptr], returns: T.i32 },
});

function header(pid: number): Uint32Array {
  return new Uint32Array([LINUX_CAPABILITY_VERSION_3, pid]);
}

const lo = (s: CapSet) => Number(s & 0xffffffffn);
const hi = (s: CapSet) => Number((s >> 32n) & 0xffffffffn);
const join = (l: number, h: number): CapSet => (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);

/** capget(2) for a pid (0 = the calling thread). */
export function capget(pid = 0): CapState {
  const hdr = header(pid);
  // struct __user_cap_data_struct { effective, permitted, inheritable } x 2
  const data = new Uint32Array(6);
  check(sym().capget(ptr(hdr), ptr(data)), "capget");
  return {
    effective: join(data[0]!, data[3]!),
    permitted: join(data[1]!, data[4]!),
    inheritable: join(data[2]!, data[5]!),
  };
}

/** capset(2) on the calling thread. */
export function capset(state: CapState): void {
  const hdr = header(0);
  const { effective: e, permitted: p, inheritable: i } = state;
  const data = new Uint32Array([lo(e), lo(p), lo(i), hi(e), hi(p), hi(i)]);
  check(sym().capset(ptr(hdr), ptr(data)), "capset");
}

/** Every capability this kernel knows (cap_last_cap), as a mask. */
export function allCaps(lastCap = kernelLastCap()): CapSet {
  return (1n << BigInt(lastCap + 1)) - 1n;
}

/** /proc/sys/kernel/cap_last_cap, falling back to our table's last entry. */
export function kernelLastCap(): number {
  try {
    const text = readFileSync("/proc/sys/kernel/cap_last_cap", "utf8");
    const n = Number.parseInt(text, 10);
    return Number.isFinite(n) ? n : CAP_LAST_CAP;
  } catch {
    return CAP_LAST_CAP;
  }
}
