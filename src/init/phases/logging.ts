// Boot phase "logging": ship init's and the services' lines to
// machine.logging.destinations. The shipper (and node:net/dgram) loads only
// when there is somewhere to ship to.
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function loggingTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "log destinations",
      run: async () => {
        const dests = ctx.config.get().config.machine.logging.destinations;
        if (dests.length === 0) return skipped("machine.logging.destinations is empty");
        const { startLogShipping } = await import("../mechanisms/logship.ts");
        startLogShipping(ctx, dests);
        ctx.log.info(`  shipping json_lines to ${dests.map((d) => d.endpoint).join(", ")}`);
      },
    },
  ];
}
