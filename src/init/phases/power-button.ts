// Boot phase "powerButton": watch every input device that reports KEY_POWER
// (QEMU's and a cloud's "shut down"); a press powers the node off in order.
// The evdev watcher loads only on a kernel boot.
import { FailedPreconditionError } from "../../lib/errors.ts";
import { errText } from "../mechanisms/log.ts";
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function powerButtonTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "watch the power button",
      run: async () => {
        if (ctx.sandbox) return skipped("sandbox: no input devices; the host's power button is the host's");
        const { powerButtons, watchPowerButton } = await import("../mechanisms/power-button.ts");
        const devices = powerButtons();
        if (devices.length === 0) return skipped("no input device reports KEY_POWER");
        for (const d of devices) void watchPowerButton(d, () => pressed(ctx, d));
        ctx.log.info(`  watching ${devices.join(", ")}`);
      },
    },
  ];
}

/**
 * A press powers off. A second press while the shutdown runs is refused by
 * power.request (FailedPreconditionError); it is caught here because the press
 * arrives from a timer, where a throw would be logged as an uncaught exception.
 */
function pressed(ctx: NodeContext, device: string): void {
  try {
    ctx.power.request("poweroff", `power button (${device})`);
  } catch (e) {
    ctx.log.warn(`power button (${device}) ignored: ${e instanceof FailedPreconditionError ? e.message : errText(e)}`);
  }
}
