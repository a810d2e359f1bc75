// The power button: every input device that reports KEY_POWER (QEMU's and a
// cloud's "shut down"); a press powers the node off in order. Watched from the
// "drivers" phase on (right after /dev, once the button's modules are loaded)
// and scanned again after the udev coldplug; a press during the boot takes the
// boot over (power.request, as a shutdown from the API may).
import { FailedPreconditionError } from "../../lib/errors.ts";
import { errText } from "../mechanisms/log.ts";
import type { NodeContext } from "../context.ts";
import { PowerButtonWatch } from "../mechanisms/power-watch.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** One watch per boot, shared by the early scan and the one after the coldplug. */
export function powerButtonWatch(ctx: NodeContext): PowerButtonWatch {
  return new PowerButtonWatch((d) => pressed(ctx, d));
}

/** The scan task: `when` says which one it is in the log ("early", "after coldplug"). */
export function powerButtonTask(ctx: NodeContext, watch: PowerButtonWatch, when: string): Task {
  return {
    name: `watch the power button (${when})`,
    run: () => {
      if (ctx.sandbox) return skipped("sandbox: no input devices; the host's power button is the host's");
      const fresh = watch.scan();
      if (fresh.length === 0) return skipped(watch.devices.length ? `already watching ${watch.devices.join(", ")}` : "no input device reports KEY_POWER (yet)");
      ctx.log.info(`  watching ${fresh.join(", ")}`);
    },
  };
}

export function powerButtonTasks(ctx: NodeContext, watch: PowerButtonWatch): Task[] {
  return [powerButtonTask(ctx, watch, "after coldplug")];
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
