// The first phases of every sequence that ends the node: stop the services in
// reverse dependency order, then close the machine API.
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

export function stopServicesTask(ctx: NodeContext): Task {
  return {
    name: "stop services",
    run: async () => {
      const reg = ctx.services.peek();
      if (!reg) return skipped("no services were started");
      await reg.stopAll((id, msg) => ctx.log.info(`  stopped ${id}: ${msg}`));
    },
  };
}

/** DHCPRELEASE for every lease, taken off its link (RFC 2131 §3.1 step 7: a client that leaves releases). */
export function releaseLeasesTask(ctx: NodeContext): Task {
  return {
    name: "release DHCP leases",
    run: async () => {
      const rt = ctx.network.peek();
      if (!rt) return skipped("the network phase did not run");
      const had = rt.dhcpLinks().length;
      const released = await rt.stopAll(true); // also ends the link watch
      if (had === 0) return skipped("no link runs DHCP");
      ctx.log.info(`  released ${released.join(", ")}`);
    },
  };
}

export function stopApiTask(ctx: NodeContext): Task {
  return {
    name: "close machine API",
    run: async () => {
      const api = ctx.api.take();
      if (!api) return skipped("the API was not started");
      await api.close();
    },
  };
}
