// DHCP when nothing else configures the network: no machine.network.interfaces
// and no ip= on the kernel cmdline (a stock cmdline). As Talos does by default,
// the node asks for a lease — here on the first physical Ethernet interface —
// so a machine booted with just `console=ttyS0` is reachable in maintenance
// mode and after it. The client keeps running (renewals) for the node's life.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { startDhcp, type DhcpHandle, type Lease } from "../../dhcp/index.ts";
import { interfaceUp } from "../../sys/net.ts";

/** ARPHRD_ETHER in /sys/class/net/<if>/type. */
const ARPHRD_ETHER = "1";

/** Physical Ethernet interfaces (a `device` link: not lo, bridges, veths), in name order. */
export function ethernetInterfaces(sysClassNet = "/sys/class/net"): string[] {
  if (!existsSync(sysClassNet)) return [];
  return readdirSync(sysClassNet)
    .filter((n) => {
      try {
        return readFileSync(`${sysClassNet}/${n}/type`, "utf8").trim() === ARPHRD_ETHER && existsSync(`${sysClassNet}/${n}/device`);
      } catch {
        return false;
      }
    })
    .sort();
}

export interface FallbackDhcp {
  ifname: string;
  handle: DhcpHandle;
}

/**
 * Brings `ifname` up, starts DHCP on it and resolves with the first lease, or
 * undefined after `timeoutMs` (the client keeps trying) or on abort.
 */
export async function dhcpFallback(ifname: string, timeoutMs: number, signal: AbortSignal): Promise<{ dhcp: FallbackDhcp; lease: Lease | undefined }> {
  interfaceUp(ifname);
  const handle = startDhcp(ifname);
  const lease = await new Promise<Lease | undefined>((resolve) => {
    const done = (l: Lease | undefined) => {
      clearTimeout(timer);
      off();
      signal.removeEventListener("abort", onAbort);
      resolve(l);
    };
    const onAbort = () => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const off = handle.on("bound", (l) => done(l));
    signal.addEventListener("abort", onAbort, { once: true });
    const now = handle.lease();
    if (now) done(now);
  });
  return { dhcp: { ifname, handle }, lease };
}
