// Boot phase "logging": ship init's and the services' lines to
// machine.logging.destinations.
import type { NodeContext } from "../context.ts";
import { startLogShipping } from "../mechanisms/logship.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function loggingTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "log destinations",
      run: () => {
        const dests = ctx.config.get().config.machine.logging.destinations;
        if (dests.length === 0) return skipped("machine.logging.destinations is empty");
        startLogShipping(ctx, dests);
        ctx.log.info(`  shipping json_lines to ${dests.map((d) => d.endpoint).join(", ")}`);
      },
    },
  ];
}
