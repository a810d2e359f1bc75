// shutdown: ask init to power off, halt or reboot now or at TIME; init holds a
// scheduled shutdown, `shutdown -c` cancels it. Shared code: src/lib/power.
import type { Io } from "../../lib/io.ts";
import { runPowerApplet } from "../power/main.ts";
import { HELP } from "../power/usage.ts";

export const USAGE = HELP.shutdown;

export function main(argv: string[], io: Io): Promise<number> {
  return runPowerApplet("shutdown", argv, io);
}
