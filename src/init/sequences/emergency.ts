// The emergency path, for a fatal boot error: log it, stop the services and
// the API; init's main then kills every process, unmounts, syncs and reboots
// after EMERGENCY_REBOOT_DELAY_MS — or waits forever when the kernel cmdline
// says panic=0, so a person at the console can read the cause.
import type { NodeContext } from "../context.ts";
import { errText } from "../mechanisms/log.ts";
import { stopApiTask, stopServicesTask } from "../phases/stop.ts";
import type { Sequence } from "./sequencer.ts";

export const EMERGENCY_REBOOT_DELAY_MS = 10_000;

export function emergencySequence(ctx: NodeContext, cause: unknown): Sequence {
  const forever = ctx.cmdline.params.get("panic") === "0";
  return {
    name: "emergency",
    onTaskError: "continue",
    phases: [
      { name: "report", tasks: [{ name: "log the cause", run: () => ctx.log.error(`fatal boot error: ${errText(cause)}`) }] },
      { name: "stopServices", tasks: [stopServicesTask(ctx)] },
      { name: "stopApi", tasks: [stopApiTask(ctx)] },
    ],
    end: { command: "RESTART", termGraceMs: 2000, killWaitMs: 5000, holdMs: forever ? "forever" : EMERGENCY_REBOOT_DELAY_MS },
  };
}
