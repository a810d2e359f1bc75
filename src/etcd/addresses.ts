// Which of the node's addresses etcd advertises and listens on, from
// cluster.etcd.advertisedSubnets and listenSubnets (Talos's keys: CIDRs, a
// leading "!" excludes). Without advertisedSubnets every non-loopback IPv4
// address is a candidate, the first (the primary) advertised first; without
// listenSubnets etcd listens on every address, as in Talos.
import { isIpv4, networkOf, parseCidr4 } from "../lib/ipv4.ts";

function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr4(cidr);
  if (!isIpv4(ip) || !c) return false;
  return networkOf({ addr: ip, prefix: c.prefix }) === networkOf(c);
}

/** The addresses matching `subnets` (any positive one, no "!" one); every address when no positive subnet is given. */
export function filterBySubnets(addresses: string[], subnets: string[]): string[] {
  const include = subnets.filter((s) => !s.startsWith("!"));
  const exclude = subnets.filter((s) => s.startsWith("!")).map((s) => s.slice(1));
  return addresses.filter((ip) => (include.length === 0 || include.some((c) => inCidr(ip, c))) && !exclude.some((c) => inCidr(ip, c)));
}

export interface EtcdAddresses {
  /** Advertised to peers and clients, primary first. */
  advertised: string[];
  /** Listened on; ["0.0.0.0"] means every address. */
  listen: string[];
}

/** `nodeAddresses`: the node's IPv4 addresses, primary first. */
export function chooseAddresses(nodeAddresses: string[], advertisedSubnets: string[] = [], listenSubnets: string[] = []): EtcdAddresses {
  const candidates = nodeAddresses.filter((ip) => !ip.startsWith("127."));
  const advertised = filterBySubnets(candidates, advertisedSubnets);
  const listen = listenSubnets.length ? filterBySubnets(candidates, listenSubnets) : ["0.0.0.0"];
  return { advertised, listen };
}

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

export const url = (ip: string, port: number) => `https://${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
