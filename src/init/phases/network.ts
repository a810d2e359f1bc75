// Boot phase "network": static IPv4 on the interfaces the machine config (or,
// without any there, the kernel cmdline's ip=) names. Runs after the udev
// coldplug, which loads the NIC drivers; each interface is still waited for
// (bounded), since a driver can register its device after the queue settled.
// A missing interface is logged, not fatal: the node stays reachable on the others.
import { addAddress4, addRoute4, interfaceIndex, interfaceUp, setMtu } from "../../sys/net.ts";
import type { NetworkInterface } from "../config/machine.ts";
import { networkPlan } from "../mechanisms/network.ts";
import { parseCidr4 } from "../../lib/ipv4.ts";
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** How long an interface named in the config may take to appear. */
export const INTERFACE_WAIT_MS = 10_000;

export function networkTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "static IPv4",
      run: async (signal) => {
        const configured = ctx.config.get().config.machine.network.interfaces;
        if (configured.length === 0 && ctx.networkFromCmdline) return skipped("ip= was applied in maintenance mode");
        const plan = networkPlan(configured, ctx.cmdline.params.get("ip"));
        for (const n of plan.notes) ctx.log.info(`  ${n}`);
        if (plan.interfaces.length === 0) return skipped("no machine.network.interfaces and no usable ip= on the kernel cmdline");
        ctx.log.info(`  from ${plan.source}`);
        const missing: string[] = [];
        for (const iface of plan.interfaces) {
          const index = await waitForInterface(iface.interface, INTERFACE_WAIT_MS, signal);
          if (index === undefined) {
            missing.push(iface.interface);
            ctx.log.warn(
              `  ${iface.interface}: no such interface after ${INTERFACE_WAIT_MS / 1000} s${ctx.sandbox ? " (the sandbox's network namespace has only lo)" : ""}: not configured`,
            );
            continue;
          }
          ctx.log.info(`  ${configureInterface(iface, index)}`);
        }
        if (missing.length === plan.interfaces.length) return skipped(`no configured interface exists: ${missing.join(", ")}`);
      },
    },
  ];
}

/** MTU, link up, addresses, then routes (a gateway must be on a link that is up and addressed). */
export function configureInterface(iface: NetworkInterface, index: number): string {
  const name = iface.interface;
  if (iface.mtu !== undefined) setMtu(name, iface.mtu);
  interfaceUp(name);
  for (const a of iface.addresses) {
    const c = parseCidr4(a)!; // validated with the config
    addAddress4(index, c.addr, c.prefix);
  }
  for (const r of iface.routes) {
    const c = parseCidr4(r.network)!;
    addRoute4({ dst: c.addr, prefix: c.prefix, index, ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) });
  }
  const routes = iface.routes.map((r) => `${r.network}${r.gateway ? ` via ${r.gateway}` : ""}`);
  return `${name} (ifindex ${index}) up${iface.mtu !== undefined ? `, mtu ${iface.mtu}` : ""}: ${iface.addresses.join(" ") || "no addresses"}${routes.length ? `; routes ${routes.join(", ")}` : ""}`;
}

/** The interface's index once it exists; undefined after `timeoutMs` or when the boot is aborted. */
export async function waitForInterface(name: string, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  const until = performance.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const index = interfaceIndex(name);
    if (index !== undefined) return index;
    if (signal.aborted || performance.now() >= until) return undefined;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200); // short backoff: a driver usually registers within milliseconds
  }
}
