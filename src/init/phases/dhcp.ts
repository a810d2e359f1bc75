// The DHCP fallback as a task: used by phase "maintenance" (to be reachable)
// and phase "network" (after it), when neither machine.network.interfaces nor
// the kernel cmdline's ip= configure the network. Started once per boot.
import type { NodeContext } from "../context.ts";
import { dhcpFallback, ethernetInterfaces } from "../mechanisms/dhcp-fallback.ts";
import { errText } from "../mechanisms/log.ts";
import { networkPlan } from "../mechanisms/network.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";
import { INTERFACE_WAIT_MS } from "./network.ts";

/** How long a task waits for the first lease; the client keeps trying after that. */
export const LEASE_WAIT_MS = 30_000;

export function dhcpFallbackTask(ctx: NodeContext, opts: { onlyInMaintenance: boolean }): Task {
  return {
    name: "DHCP (nothing else configures the network)",
    run: async (signal) => {
      if (opts.onlyInMaintenance && !ctx.maintenance) return skipped("not in maintenance mode");
      if (ctx.sandbox) return skipped("sandbox: the network namespace has only lo");
      if (ctx.dhcp) return skipped(`already running on ${ctx.dhcp.ifname}`);
      const configured = ctx.config.peek()?.config.machine.network.interfaces ?? [];
      if (configured.length > 0) return skipped("machine.network.interfaces configures the network");
      if (networkPlan([], ctx.cmdline.params.get("ip")).interfaces.length > 0) return skipped("ip= on the kernel cmdline configures the network");
      const until = performance.now() + INTERFACE_WAIT_MS;
      let names = ethernetInterfaces();
      while (names.length === 0 && performance.now() < until && !signal.aborted) {
        await new Promise((r) => setTimeout(r, 100));
        names = ethernetInterfaces();
      }
      const ifname = names[0];
      if (!ifname) return skipped(`no Ethernet interface after ${INTERFACE_WAIT_MS / 1000} s`);
      let r: Awaited<ReturnType<typeof dhcpFallback>>;
      try {
        r = await dhcpFallback(ifname, LEASE_WAIT_MS, signal);
      } catch (e) {
        ctx.log.warn(`  DHCP on ${ifname} could not start: ${errText(e)}`);
        return;
      }
      ctx.dhcp = r.dhcp;
      r.dhcp.handle.on("renewed", (l) => ctx.log.info(`dhcp: ${ifname}: lease ${l.address}/${l.prefix} renewed`));
      r.dhcp.handle.on("expired", (l, why) => ctx.log.warn(`dhcp: ${ifname}: lease ${l.address} ended (${why})`));
      if (!r.lease) {
        ctx.log.warn(`  ${ifname}: no DHCP lease within ${LEASE_WAIT_MS / 1000} s (still asking)`);
        r.dhcp.handle.on("bound", (l) => ctx.log.info(`dhcp: ${ifname}: bound ${l.address}/${l.prefix}`));
        return;
      }
      const l = r.lease;
      ctx.log.info(`  ${ifname}: DHCP lease ${l.address}/${l.prefix}${l.routers.length ? ` via ${l.routers[0]}` : ""}`);
    },
  };
}
