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

/** The commands that end the node; the Ctrl-Alt-Del switches have their own function. */
export type RebootCommand = "RESTART" | "HALT" | "POWER_OFF";

const sym = libc({
  reboot: { args: [T.u32], returns: T.i32 },
  sync: { args: [], returns: T.void },
});

export function reboot(cmd: RebootCommand): void {
  check(sym().reboot(RB[cmd] >>> 0), `reboot(${cmd})`);
}

/**
 * reboot(CAD_OFF): Ctrl-Alt-Del then sends SIGINT to PID 1 instead of
 * rebooting at once, so init can reboot in order.
 */
export function ctrlAltDelSendsSigint(): void {
  check(sym().reboot(RB.CAD_OFF >>> 0), "reboot(CAD_OFF)");
}

export function sync(): void {
  sym().sync();
}
