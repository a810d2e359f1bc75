// src/sys: the only code in minos that calls libc (through bun:ffi).
export * from "./errno.ts";
export * from "./caps.ts";
export * from "./prctl.ts";
export * from "./reboot.ts";
export * from "./mount.ts";
export * from "./process.ts";
export * from "./spawn.ts";
export * from "./tty.ts";
export * from "./signal.ts";
export { errno } from "./ffi.ts";
