// reboot(2). glibc's reboot() supplies the two magic numbers
// (LINUX_REBOOT_MAGIC1 0xfee1dead, MAGIC2 672274793) itself; the command is ours.
// In a non-initial PID namespace the kernel does not reboot: it kills that
// namespace's init with SIGINT (POWER_OFF/HALT) or SIGHUP (RESTART).
import { check, libc, T } from "./ffi.ts";

export const LINUX_REBOOT_MAGIC1 = 0xfee1dead;
export const LINUX_REBOOT_MAGIC2 = 672274793;

export const RB = {
  RESTART: 0x01234567,
  HALT: 0xcdef0123,
  POWER_OFF: 0x4321fedc,
  CAD_ON: 0x89abcdef,
  CAD_OFF: 0x00000000,
} as const;

export type RebootCommand = keyof typeof RB;

const sym = libc({
  reboot: { args: [T.u32], returns: T.i32 },
  sync: { args: [], returns: T.void },
});

export function reboot(cmd: RebootCommand): void {
  check(sym().reboot(RB[cmd] >>> 0), `reboot(${cmd})`);
}

export function sync(): void {
  sym().sync();
}
