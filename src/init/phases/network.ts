// Boot phase "network": what machine.network says (or, without interfaces
// there, the kernel cmdline's ip=; with neither, DHCP on every physical link
// with carrier, Talos's default), static and DHCP links side by side:
//
//   interfaces          each entry's link found (by name or deviceSelector,
//                       waited for up to 10 s: a driver can register its device
//                       after the coldplug settled), all entries at once; a
//                       missing one is logged and emitted as an event, the
//                       boot goes on. Static IPv4/IPv6 addresses and routes
//                       applied, router advertisements accepted, DHCP started.
//   dhcp                waits up to DHCP_BOOT_WAIT_MS for the leases, then goes
//                       on: a lease that comes later is applied when it comes
//                       (mechanisms/network-runtime.ts), as are renewals.
//   resolvers and hosts the hostname, /etc/resolv.conf and /etc/hosts.
//
// Time sync (src/time, another branch) belongs in a phase right after this one
// (sequences/boot.ts marks the slot): by then the links are addressed and
// resolv.conf is written; NetworkRuntime.waitForLeases lets it wait for DHCP.
import { writeFileSync } from "node:fs";
import { addAddress4, addRoute4, interfaceIndex, interfaceUp, setMtu } from "../../sys/net.ts";
import { addAddress6, addRoute6 } from "../../sys/net6.ts";
import { parseCidr4 } from "../../lib/ipv4.ts";
import { ipv6Bytes, parseCidr6 } from "../../lib/ipv6.ts";
import { DEFAULT_DHCP_ROUTE_METRIC, type NetworkInterface } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";
import { linkInfo, linkReady, listLinks, describeEntry, resolveEntry, type LinkInfo } from "../mechanisms/links.ts";
import { stableDefaultHostname } from "../mechanisms/hostname.ts";
import { errText } from "../mechanisms/log.ts";
import { networkPlan } from "../mechanisms/network.ts";
import { NetworkRuntime } from "../mechanisms/network-runtime.ts";
import { sethostname, uname } from "../../sys/process.ts";
import { API_TCP_PORT } from "../../node/paths.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** How long an interface named in the config may take to appear. */
export const INTERFACE_WAIT_MS = 10_000;
/** How long the default (no config) waits for carrier on the physical links it brought up. */
export const CARRIER_WAIT_MS = 3000;
/** How long the boot waits for DHCP leases before it goes on without them. */
export const DHCP_BOOT_WAIT_MS = 5000;

/** One link to configure: the config's entry (or the default's) and the link it resolved to. */
interface Target {
  entry: NetworkInterface;
  link: string;
  index: number;
}

export function networkTasks(ctx: NodeContext): Task[] {
  const runtime = () => {
    let rt = ctx.network.peek();
    if (!rt) {
      rt = new NetworkRuntime({
        log: { info: (m) => ctx.log.info(m), warn: (m) => ctx.log.warn(m) },
        emit: (e) => ctx.events.emit(e),
        config: () => ctx.config.get().config.machine.network,
        setHostname: (n) => sethostname(n),
        currentHostname: () => uname().nodename,
        apiPort: () => (ctx.api.peek()?.tcpPort !== undefined ? API_TCP_PORT : undefined),
      });
      ctx.network.set(rt);
    }
    return rt;
  };
  return [
    {
      name: "interfaces",
      // A route via an unreachable gateway or a refused address fails this step (logged, an event), not the boot.
      nonFatal: true,
      run: async (signal) => {
        const rt = runtime();
        const net = ctx.config.get().config.machine.network;
        if (net.interfaces.length === 0 && ctx.networkFromCmdline) return skipped("ip= was applied in maintenance mode");
        // Maintenance mode's DHCP client hands over to the network runtime's (which also writes resolvers and the hostname).
        if (ctx.dhcp) {
          await ctx.dhcp.handle.stop(false);
          ctx.log.info(`  ${ctx.dhcp.ifname}: maintenance mode's DHCP client stopped; the network runtime takes over`);
          ctx.dhcp = undefined;
        }
        const plan = networkPlan(net.interfaces, ctx.cmdline.params.get("ip"));
        for (const n of plan.notes) ctx.log.info(`  ${n}`);
        rt.setStableDefaultHostname(stableDefaultHostname(listLinks()));
        const failed: string[] = [];
        const configure = async (t: Target): Promise<void> => {
          const linkUp = performance.now();
          const r = configureInterface(t.entry, t.index, t.link);
          ctx.log.info(`  ${r.summary}`);
          for (const p of r.problems) ctx.log.error(`  ${t.link}: ${p}`);
          failed.push(...r.problems.map((p) => `${t.link}: ${p}`));
          rt.recordStatic(t.link, t.entry.addresses);
          ctx.log.info(`  ${acceptRouterAdvertisements(t.entry, t.link)}`);
          if (t.entry.dhcp && t.entry.dhcpOptions?.ipv4 !== false) {
            // The first DISCOVER goes out once the link passes packets (bounded: a link without carrier tries anyway).
            if (!(await waitLinkReady(t.link, CARRIER_WAIT_MS, signal)))
              ctx.log.info(`  ${t.link}: no carrier after ${CARRIER_WAIT_MS} ms: DHCP starts anyway`);
            try {
              rt.startDhcp(t.link, t.entry.dhcpOptions?.routeMetric, linkUp);
              const ready = Math.round(performance.now() - linkUp);
              ctx.log.info(`  ${t.link}: DHCPv4 started ${ready} ms after link up (route metric ${t.entry.dhcpOptions?.routeMetric ?? "kernel default"})`);
            } catch (e) {
              ctx.log.warn(`  ${t.link}: DHCPv4 not started: ${errText(e)}`);
            }
          }
        };
        if (plan.interfaces.length > 0) {
          ctx.log.info(`  from ${plan.source}`);
          // Each entry on its own: a link that exists is configured (and its DHCP started) at once, not after a missing one's wait.
          const found = await Promise.all(plan.interfaces.map((entry) => findAndConfigure(ctx, rt, entry, signal, configure)));
          if (!found.some(Boolean)) return skipped(`no configured interface exists: ${plan.interfaces.map(describeEntry).join(", ")}`);
        } else {
          const targets = await physicalWithCarrier(ctx, signal);
          const handled = new Set(targets.map((t) => t.link));
          // A NIC whose driver loads after the coldplug settled, or whose cable comes later, gets DHCP when it does.
          rt.onStop(watchPhysicalLinks(ctx, rt, handled, configure));
          if (targets.length === 0) {
            rt.checkAddresses();
            rt.watchAddresses();
            return skipped(
              `no machine.network.interfaces, no usable ip= on the kernel cmdline, and no physical link with carrier${ctx.sandbox ? " (the sandbox's network namespace has only lo)" : ""}; watching for one`,
            );
          }
          ctx.log.info(`  no machine.network.interfaces and no usable ip=: DHCP on ${targets.map((t) => t.link).join(", ")} (physical, carrier)`);
          await Promise.all(targets.map(configure));
        }
        rt.checkAddresses();
        rt.watchAddresses();
        if (failed.length) throw new Error(`interfaces: ${failed.join("; ")}`);
      },
    },
    {
      name: "dhcp",
      run: async (signal) => {
        const rt = ctx.network.peek();
        const links = rt?.dhcpLinks() ?? [];
        if (!rt || links.length === 0) return skipped("no link runs DHCP");
        const t0 = performance.now();
        const all = await rt.waitForLeases(DHCP_BOOT_WAIT_MS, signal);
        const bound = rt.leases().filter((l) => l.address);
        const pending = rt.leases().filter((l) => !l.address);
        ctx.log.info(
          `  ${bound.map((l) => `${l.link} ${l.address}/${l.prefix}`).join(", ") || "no lease yet"}${all ? "" : `; still waiting on ${pending.map((l) => `${l.link} (${l.state})`).join(", ")} after ${Math.round(performance.now() - t0)} ms: applied when it comes`}`,
        );
      },
    },
    {
      name: "resolvers and hosts",
      run: () => {
        runtime().refresh("boot");
      },
    },
  ];
}

/** An entry's link, waited for (bounded), then configured; a missing one is logged and emitted. */
async function findAndConfigure(
  ctx: NodeContext,
  rt: NetworkRuntime,
  entry: NetworkInterface,
  signal: AbortSignal,
  configure: (t: Target) => Promise<void>,
): Promise<boolean> {
  const link = await waitForEntry(entry, INTERFACE_WAIT_MS, signal);
  const index = link && interfaceIndex(link.name);
  if (!link || index === undefined) {
    const msg = `${describeEntry(entry)}: no such interface after ${INTERFACE_WAIT_MS / 1000} s${ctx.sandbox ? " (the sandbox's network namespace has only lo)" : ""}: not configured`;
    ctx.log.warn(`  ${msg}`);
    ctx.events.emit({ kind: "network", message: `missing interface ${msg}` });
    // The boot goes on; should the link appear later (a driver slower than the wait), it is configured then.
    rt.onStop(watchForEntry(ctx, entry, configure));
    return false;
  }
  try {
    await configure({ entry, link: link.name, index });
  } catch (e) {
    // One link's refusal (an address the kernel rejects) must not keep the others unconfigured.
    ctx.log.warn(`  ${link.name}: ${errText(e)}`);
    ctx.events.emit({ kind: "network", message: `${link.name}: ${errText(e)}` });
    return false;
  }
  return true;
}

/** How often the default looks for physical links that appeared or got carrier since. */
export const LINK_WATCH_MS = 1000;

/** The default's watch: every new physical link is brought up, and runs DHCP once it has carrier. Returns its stop. */
function watchPhysicalLinks(ctx: NodeContext, rt: NetworkRuntime, handled: Set<string>, configure: (t: Target) => Promise<void>): () => void {
  const upped = new Set(handled);
  const timer = setInterval(() => {
    for (const l of listLinks()) {
      if (!l.physical || handled.has(l.name)) continue;
      try {
        if (!upped.has(l.name)) {
          upped.add(l.name);
          interfaceUp(l.name);
          ctx.log.info(`${l.name}: physical link appeared: up, DHCP once it has carrier`);
        }
        const index = interfaceIndex(l.name);
        if (!linkReady(l.name) || index === undefined) continue;
        handled.add(l.name);
        rt.setStableDefaultHostname(stableDefaultHostname(listLinks())); // the first NIC may be this one
        configure({ entry: defaultEntry(l.name), link: l.name, index }).catch((e) => ctx.log.warn(`${l.name}: ${errText(e)}`));
      } catch (e) {
        handled.add(l.name); // one report, not one per second
        ctx.log.warn(`${l.name}: ${errText(e)}`);
      }
    }
  }, LINK_WATCH_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}

const defaultEntry = (link: string): NetworkInterface => ({
  interface: link,
  addresses: [],
  routes: [],
  dhcp: true,
  dhcpOptions: { routeMetric: DEFAULT_DHCP_ROUTE_METRIC, ipv4: true, ipv6: false },
});

/** Configures `entry` once its link appears (checked every LINK_WATCH_MS). Returns its stop. */
function watchForEntry(ctx: NodeContext, entry: NetworkInterface, configure: (t: Target) => Promise<void>): () => void {
  const timer = setInterval(() => {
    const name = entry.interface ?? resolveEntry(entry, listLinks())?.name;
    const index = name === undefined ? undefined : interfaceIndex(name);
    if (name === undefined || index === undefined) return;
    clearInterval(timer);
    ctx.log.info(`${describeEntry(entry)}: appeared as ${name} after the boot's wait: configuring it`);
    ctx.events.emit({ kind: "network", message: `interface ${name} appeared late: configured` });
    configure({ entry, link: name, index }).catch((e) => ctx.log.warn(`${name}: ${errText(e)}`));
  }, LINK_WATCH_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** The default: every physical link brought up; those with carrier within CARRIER_WAIT_MS run DHCP. */
async function physicalWithCarrier(ctx: NodeContext, signal: AbortSignal): Promise<Target[]> {
  const physical = listLinks().filter((l) => l.physical);
  for (const l of physical) {
    try {
      interfaceUp(l.name);
    } catch (e) {
      ctx.log.warn(`  ${l.name}: up: ${errText(e)}`);
    }
  }
  const until = performance.now() + CARRIER_WAIT_MS;
  while (physical.some((l) => !linkReady(l.name)) && performance.now() < until && !signal.aborted) await sleep(25);
  const out: Target[] = [];
  for (const l of physical) {
    if (!linkReady(l.name)) {
      ctx.log.info(`  ${l.name}: no carrier after ${CARRIER_WAIT_MS} ms: no DHCP`);
      continue;
    }
    const index = interfaceIndex(l.name);
    if (index !== undefined) out.push({ entry: defaultEntry(l.name), link: l.name, index });
  }
  return out;
}

/** MTU, link up, addresses, then routes (a gateway must be on a link that is up and addressed). Both families. */
export function configureInterface(iface: NetworkInterface, index: number, name = iface.interface ?? ""): { summary: string; problems: string[] } {
  // Each address and route on its own: one the kernel refuses (ENETUNREACH for a gateway
  // no link reaches) is reported in `problems`, and the rest are still configured.
  const problems: string[] = [];
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      problems.push(`${what}: ${errText(e)}`);
    }
  };
  if (iface.mtu !== undefined) attempt(`mtu ${iface.mtu}`, () => setMtu(name, iface.mtu!));
  attempt("link up", () => interfaceUp(name));
  for (const a of iface.addresses) {
    attempt(`address ${a}`, () => {
      if (a.includes(":")) {
        const c = parseCidr6(a)!; // validated with the config
        addAddress6(index, ipv6Bytes(c.addr)!, c.prefix, c.addr);
      } else {
        const c = parseCidr4(a)!;
        addAddress4(index, c.addr, c.prefix);
      }
    });
  }
  for (const r of iface.routes) {
    attempt(`route ${r.network}${r.gateway ? ` via ${r.gateway}` : ""}`, () => {
      if (r.network.includes(":")) {
        const c = parseCidr6(r.network)!;
        addRoute6({
          dst: ipv6Bytes(c.addr)!,
          prefix: c.prefix,
          index,
          label: `${r.network}${r.gateway ? ` via ${r.gateway}` : ""}`,
          ...(r.gateway ? { gateway: ipv6Bytes(r.gateway)! } : {}),
          ...(r.metric !== undefined ? { metric: r.metric } : {}),
        });
        return;
      }
      const c = parseCidr4(r.network)!;
      addRoute4({
        dst: c.addr,
        prefix: c.prefix,
        index,
        ...(r.gateway ? { gateway: r.gateway } : {}),
        ...(r.metric !== undefined ? { metric: r.metric } : {}),
      });
    });
  }
  const routes = iface.routes.map((r) => `${r.network}${r.gateway ? ` via ${r.gateway}` : ""}`);
  const summary = `${name} (ifindex ${index}) up${iface.mtu !== undefined ? `, mtu ${iface.mtu}` : ""}: ${iface.addresses.join(" ") || (iface.dhcp ? "DHCP" : "no addresses")}${routes.length ? `; routes ${routes.join(", ")}` : ""}`;
  return { summary, problems };
}

/**
 * Router advertisements on a link the node configures: accepted (accept_ra=2,
 * so also once a Kubernetes node forwards; autoconf=1: SLAAC addresses), unless
 * the entry gives static IPv6 addresses: then accept_ra=0 and autoconf=0, the
 * config's addresses and routes are the link's IPv6.
 */
export function acceptRouterAdvertisements(entry: NetworkInterface, link: string, procSys = "/proc/sys"): string {
  const staticV6 = entry.addresses.some((a) => a.includes(":"));
  const want = staticV6 ? { accept_ra: "0", autoconf: "0" } : { accept_ra: "2", autoconf: "1" };
  try {
    for (const [k, v] of Object.entries(want)) writeFileSync(`${procSys}/net/ipv6/conf/${link}/${k}`, v);
    return `${link}: IPv6 router advertisements ${staticV6 ? "ignored (static IPv6 configured)" : "accepted (accept_ra=2, autoconf=1)"}`;
  } catch (e) {
    return `${link}: IPv6 sysctls not set: ${errText(e)}`;
  }
}

/** True once the link passes packets (links.ts linkReady); false after `timeoutMs` or when aborted. */
async function waitLinkReady(link: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!linkReady(link)) {
    if (signal.aborted || performance.now() >= until) return false;
    await sleep(10);
  }
  return true;
}

/** The link an entry means, once it exists; undefined after `timeoutMs` or when the boot is aborted. */
async function waitForEntry(entry: NetworkInterface, timeoutMs: number, signal: AbortSignal): Promise<LinkInfo | undefined> {
  const until = performance.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const found =
      entry.interface !== undefined
        ? interfaceIndex(entry.interface) !== undefined
          ? linkInfo(entry.interface)
          : undefined
        : resolveEntry(entry, listLinks());
    if (found) return found;
    if (signal.aborted || performance.now() >= until) return undefined;
    await sleep(delay);
    delay = Math.min(delay * 2, 200); // short backoff: a driver usually registers within milliseconds
  }
}

/** The interface's index once it exists; undefined after `timeoutMs` or when the boot is aborted. */
export async function waitForInterface(name: string, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  const l = await waitForEntry({ interface: name, addresses: [], routes: [] }, timeoutMs, signal);
  return l ? interfaceIndex(l.name) : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
