// The emergency path, for a fatal boot error: log it, kill every process,
// unmount, sync, then reboot after 10 s — or wait forever when the kernel
// cmdline says panic=0 (someone wants to read the console). PID 1 never exits.
import { reboot, sync } from "../../sys/reboot.ts";
import { errText } from "../mechanisms/log.ts";
import type { Node } from "../context.ts";
import { skipped, type Sequence } from "./sequencer.ts";
import { killAllTask, stopServicesTask, unmountTask } from "../phases/stop.ts";

export const EMERGENCY_REBOOT_DELAY_MS = 10_000;

export function emergencySequence(node: Node, cause: unknown): Sequence {
  return {
    name: "emergency",
    onTaskError: "continue",
    phases: [
      { name: "report", tasks: [{ name: "log the cause", run: () => node.log.error(`fatal boot error: ${errText(cause)}`) }] },
      { name: "stopServices", tasks: [stopServicesTask(node)] },
      { name: "killProcesses", tasks: [killAllTask(node, 15, 2000), killAllTask(node, 9, 5000)] },
      { name: "unmount", tasks: [unmountTask(node)] },
      { name: "sync", tasks: [{ name: "sync", run: () => sync() }] },
      {
        name: "reboot",
        tasks: [
          {
            name: "reboot or wait",
            run: async () => {
              if (node.cmdline.params.get("panic") === "0") {
                node.log.error("panic=0 on the kernel cmdline: waiting forever");
                await new Promise<never>(() => {});
              }
              node.log.error(`rebooting in ${EMERGENCY_REBOOT_DELAY_MS / 1000} s`);
              await new Promise((r) => setTimeout(r, EMERGENCY_REBOOT_DELAY_MS));
              reboot("RESTART");
              return skipped("reboot(2) returned");
            },
          },
        ],
      },
    ],
  };
}

export async function emergency(node: Node, cause: unknown): Promise<void> {
  try {
    await node.sequencer.run(emergencySequence(node, cause));
  } catch (e) {
    node.log.error(`emergency sequence: ${errText(e)}`);
  }
}
