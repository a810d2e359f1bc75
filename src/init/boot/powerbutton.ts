// Boot phase "powerButton": watch every input device that reports KEY_POWER
// (QEMU's and a cloud's "shut down"); a press powers the node off in order.
import type { Node } from "../node.ts";
import { powerButtons, watchPowerButton } from "../powerbutton.ts";
import { skipped, type Task } from "../sequencer.ts";

export function powerButtonTasks(node: Node): Task[] {
  return [
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
  ];
}
