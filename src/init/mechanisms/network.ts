// Static IPv4 configuration, as pure data: what the machine config's
// machine.network.interfaces says, or — when it says nothing — the kernel
// cmdline's `ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>`
// (the kernel's nfsroot form, which Talos honours too). The boot phase
// "network" (phases/network.ts) applies the plan through src/sys/net.ts.
import type { NetworkInterface } from "../config/machine.ts";
import { checkInterfaceName, isIpv4, netmaskPrefix } from "../../lib/ipv4.ts";

/** The kernel cmdline's ip= parameter as an interface config, or why it gives none. */
export function interfaceFromIpParam(value: string): { iface: NetworkInterface } | { ignored: string } {
  const f = value.split(":");
  const [client = "", , gw = "", mask = "", , device = "", autoconf = ""] = f;
  if (["dhcp", "on", "any", "both", "bootp", "rarp", "dhcp6", "auto6"].includes(value) || ["dhcp", "on", "any", "both", "bootp", "rarp"].includes(autoconf)) {
    return { ignored: `ip=${value}: not a static ip= (without one, and without machine.network.interfaces, DHCP runs on every physical link)` };
  }
  if (!["", "off", "none"].includes(autoconf)) return { ignored: `ip=${value}: unknown autoconf "${autoconf}"` };
  if (!isIpv4(client)) return { ignored: `ip=${value}: the client address "${client}" is not IPv4` };
  if (!device) return { ignored: `ip=${value}: no device named (minos needs the sixth field, e.g. eth0)` };
  if (checkInterfaceName(device)) return { ignored: `ip=${value}: ${checkInterfaceName(device)}` };
  const prefix = mask ? netmaskPrefix(mask) : 24;
  if (prefix === undefined) return { ignored: `ip=${value}: netmask "${mask}" is not a contiguous IPv4 mask` };
  if (gw && !isIpv4(gw)) return { ignored: `ip=${value}: the gateway "${gw}" is not IPv4` };
  return {
    iface: {
      interface: device,
      addresses: [`${client}/${prefix}`],
      routes: gw ? [{ network: "0.0.0.0/0", gateway: gw }] : [],
    },
  };
}

export interface NetworkPlan {
  /** Where the plan came from, for the log. */
  source: "machine.network.interfaces" | "ip= on the kernel cmdline" | "none";
  interfaces: NetworkInterface[];
  /** Why a source was passed over (an unusable ip=). */
  notes: string[];
}

/** The config's interfaces win; ip= is used only when the config has none (as in Talos). */
export function networkPlan(configured: readonly NetworkInterface[], ipParam: string | undefined): NetworkPlan {
  if (configured.length > 0) {
    return {
      source: "machine.network.interfaces",
      interfaces: [...configured],
      notes: ipParam !== undefined ? [`ip=${ipParam} ignored: the machine config has interfaces`] : [],
    };
  }
  if (ipParam === undefined) return { source: "none", interfaces: [], notes: [] };
  const r = interfaceFromIpParam(ipParam);
  if ("ignored" in r) return { source: "none", interfaces: [], notes: [r.ignored] };
  return { source: "ip= on the kernel cmdline", interfaces: [r.iface], notes: [] };
}
