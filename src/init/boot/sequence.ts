// The boot, as a list of named phases (Talos machined's sequencer is the model).
import { powerButtons, watchPowerButton } from "../powerbutton.ts";
import type { Node } from "../node.ts";
import { skipped, type Sequence } from "../sequencer.ts";
import { kernelTasks } from "./kernel.ts";
import { mountTasks } from "./mounts.ts";
import { apiTasks, cgroupTasks, loggingTasks, serviceTasks } from "./runtime.ts";
import { configTasks, systemTasks } from "./system.ts";

export function bootSequence(node: Node): Sequence {
  return {
    name: "boot",
    onTaskError: "abort",
    phases: [
      { name: "mounts", tasks: mountTasks(node) },
      { name: "config", tasks: configTasks(node) },
      { name: "logging", tasks: loggingTasks(node) },
      { name: "kernel", tasks: kernelTasks(node) },
      { name: "system", tasks: systemTasks(node) },
      { name: "cgroups", tasks: cgroupTasks(node) },
      { name: "api", tasks: apiTasks(node) },
      { name: "services", tasks: serviceTasks(node) },
      {
        name: "powerButton",
        tasks: [
          {
            name: "watch the power button",
            run: () => {
              if (node.sandbox) return skipped("sandbox: no input devices; the host's power button is the host's");
              const devices = powerButtons();
              if (devices.length === 0) return skipped("no input device reports KEY_POWER");
              for (const d of devices) void watchPowerButton(d, () => node.power.request("poweroff", `power button (${d})`));
              node.log.info(`  watching ${devices.join(", ")}`);
            },
          },
        ],
      },
    ],
  };
}
