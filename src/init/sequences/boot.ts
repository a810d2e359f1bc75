// The boot, as a list of named phases (Talos machined's sequencer is the model).
// Order that matters: /proc before the kernel cmdline is read (config), /dev
// before kmsg, udevd running before the coldplug, the coldplug before the
// power button and the network (their drivers load through it).
import type { Node } from "../context.ts";
import type { Sequence } from "./sequencer.ts";
import { kernelTasks } from "../phases/kernel.ts";
import { earlyMountTasks, mountTasks } from "../phases/mounts.ts";
import { networkTasks } from "../phases/network.ts";
import { powerButtonTasks } from "../phases/power-button.ts";
import { apiTasks, cgroupTasks, kmsgTasks, loggingTasks, serviceTasks } from "../phases/runtime.ts";
import { configTasks, systemTasks } from "../phases/system.ts";
import { udevTasks } from "../phases/udev.ts";

export function bootSequence(node: Node): Sequence {
  return {
    name: "boot",
    onTaskError: "abort",
    phases: [
      { name: "earlyMounts", tasks: earlyMountTasks(node) },
      { name: "kmsg", tasks: kmsgTasks(node) },
      { name: "mounts", tasks: mountTasks(node) },
      { name: "config", tasks: configTasks(node) },
      { name: "logging", tasks: loggingTasks(node) },
      { name: "kernel", tasks: kernelTasks(node) },
      { name: "system", tasks: systemTasks(node) },
      { name: "cgroups", tasks: cgroupTasks(node) },
      { name: "api", tasks: apiTasks(node) },
      { name: "services", tasks: serviceTasks(node) },
      { name: "udev", tasks: udevTasks(node) },
      { name: "powerButton", tasks: powerButtonTasks(node) },
      { name: "network", tasks: networkTasks(node) },
    ],
  };
}
