// poweroff: ask init for an orderly power-off (or halt/reboot by flag); with -f,
// sync and reboot(2) without init. The work lives in src/lib/power, shared with shutdown.
import type { Io } from "../../lib/io.ts";
import { runPowerApplet } from "../power/main.ts";
import { HELP } from "../power/usage.ts";

export const USAGE = HELP.poweroff;

export function main(argv: string[], io: Io): Promise<number> {
  return runPowerApplet("poweroff", argv, io);
}
