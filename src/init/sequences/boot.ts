// The boot, as a list of named phases (Talos machined's sequencer is the model).
// Order that matters: /proc before the kernel cmdline is read (config), /dev
// before kmsg, the drivers of present devices (disk, power button) before the
// system disk is looked for, STATE mounted before the config is read, the
// maintenance wait before anything that needs the config, udevd running
// before the coldplug, the coldplug before the network.
import type { NodeContext } from "../context.ts";
import { apiTasks } from "../phases/api.ts";
import { cgroupTasks } from "../phases/cgroups.ts";
import { configTasks } from "../phases/config.ts";
import { kernelTasks } from "../phases/kernel.ts";
import { kmsgTasks } from "../phases/kmsg.ts";
import { loggingTasks } from "../phases/logging.ts";
import { etcdTasks } from "../phases/etcd.ts";
import { earlyMountTasks, mountTasks } from "../phases/mounts.ts";
import { networkTasks } from "../phases/network.ts";
import { powerButtonTasks, powerButtonWatch } from "../phases/power-button.ts";
import { driverTasks } from "../phases/drivers.ts";
import { maintenanceTasks } from "../phases/maintenance.ts";
import { stateTasks } from "../phases/state.ts";
import { serviceTasks } from "../phases/services.ts";
import { systemTasks } from "../phases/system.ts";
import { timeTasks } from "../phases/time.ts";
import { udevTasks } from "../phases/udev.ts";
import type { Sequence } from "./sequencer.ts";

export function bootSequence(ctx: NodeContext): Sequence {
  // Watched from phase "drivers" on, scanned again after the coldplug.
  const buttons = powerButtonWatch(ctx);
  return {
    name: "boot",
    onTaskError: "abort",
    phases: [
      { name: "earlyMounts", tasks: earlyMountTasks(ctx) },
      { name: "kmsg", tasks: kmsgTasks(ctx) },
      { name: "drivers", tasks: driverTasks(ctx, buttons) },
      { name: "state", tasks: stateTasks(ctx) },
      { name: "mounts", tasks: mountTasks(ctx) },
      { name: "config", tasks: configTasks(ctx) },
      { name: "maintenance", tasks: maintenanceTasks(ctx) },
      { name: "logging", tasks: loggingTasks(ctx) },
      { name: "kernel", tasks: kernelTasks(ctx) },
      { name: "system", tasks: systemTasks(ctx) },
      // The API before the cgroup tree, which only the services phase needs: moving PID 1 into
      // /init waits in the kernel (src/init/mechanisms/cgroups.ts, moveInto), and the API answers
      // meanwhile.
      { name: "api", tasks: apiTasks(ctx) },
      { name: "cgroups", tasks: cgroupTasks(ctx) },
      { name: "services", tasks: serviceTasks(ctx) },
      { name: "udev", tasks: udevTasks(ctx) },
      { name: "powerButton", tasks: powerButtonTasks(ctx, buttons) },
      { name: "network", tasks: networkTasks(ctx) },
      { name: "time", tasks: timeTasks(ctx) },
      { name: "etcd", tasks: etcdTasks(ctx) },
    ],
  };
}
