// The default applier: puts a lease on the interface through rtnetlink
// (address/prefix, routes, MTU) and takes it off again at expiry. What the
// kernel cannot hold — resolvers, search list, hostname — is handed to the
// caller (hostSettings), because writing resolv.conf or sethostname is init's
// decision, not the DHCP client's.
import { addAddress4, addRoute4, interfaceIndex, setMtu, type Route4 } from "../sys/net.ts";
import { deleteAddress4, deleteRoute4 } from "../sys/net-del.ts";
import type { ExpiryReason, LeaseApplier } from "./client.ts";
import { leaseRoutes, type Lease } from "./lease.ts";
import { isZeroIp } from "./options.ts";

export interface HostSettings {
  dns: string[];
  search: string[];
  domainName?: string;
  hostname?: string;
}

export function hostSettings(l: Lease): HostSettings {
  const s: HostSettings = { dns: [...l.dns], search: l.search.length > 0 ? [...l.search] : l.domainName ? [l.domainName] : [] };
  if (l.domainName) s.domainName = l.domainName;
  if (l.hostname) s.hostname = l.hostname;
  return s;
}

export interface NetlinkApplierOptions {
  ifname: string;
  /** Priority of every route the lease adds (default: the kernel's, 0). */
  routeMetric?: number;
  /** Apply option 26 (default true). */
  applyMtu?: boolean;
  /** Called after each bind/renewal with what the node should use for DNS and its name. */
  onHostSettings?: (s: HostSettings, lease: Lease) => void;
}

/** The netlink routes a lease asks for; on-link ones first, so every gateway is reachable when its route is added. */
export function routesFor(lease: Lease, index: number, metric?: number): Route4[] {
  const routes = leaseRoutes(lease).map((r) => {
    const route: Route4 = { dst: r.dst, prefix: r.prefix, index };
    if (!isZeroIp(r.gateway)) route.gateway = r.gateway;
    if (metric !== undefined) route.metric = metric;
    return route;
  });
  return [...routes.filter((r) => !r.gateway), ...routes.filter((r) => r.gateway)];
}

const routeKey = (r: Route4) => `${r.dst}/${r.prefix} ${r.gateway ?? "link"} ${r.metric ?? ""}`;

export class NetlinkApplier implements LeaseApplier {
  private routes: Route4[] = [];

  constructor(private readonly o: NetlinkApplierOptions) {}

  onBound(lease: Lease): void {
    const index = this.index();
    addAddress4(index, lease.address, lease.prefix);
    if (lease.mtu && this.o.applyMtu !== false) setMtu(this.o.ifname, lease.mtu);
    this.setRoutes(routesFor(lease, index, this.o.routeMetric));
    this.o.onHostSettings?.(hostSettings(lease), lease);
  }

  onRenewed(lease: Lease, previous: Lease): void {
    const index = this.index();
    // Re-adding is idempotent (NLM_F_REPLACE) and repairs anything removed behind our back.
    addAddress4(index, lease.address, lease.prefix);
    if (previous.prefix !== lease.prefix) deleteAddress4(index, previous.address, previous.prefix);
    if (lease.mtu && lease.mtu !== previous.mtu && this.o.applyMtu !== false) setMtu(this.o.ifname, lease.mtu);
    this.setRoutes(routesFor(lease, index, this.o.routeMetric));
    this.o.onHostSettings?.(hostSettings(lease), lease);
  }

  onExpired(lease: Lease, _reason: ExpiryReason): void {
    const index = interfaceIndex(this.o.ifname);
    if (index === undefined) return; // the interface went away, and its addresses and routes with it
    for (const r of [...this.routes].reverse()) deleteRoute4(r);
    this.routes = [];
    deleteAddress4(index, lease.address, lease.prefix);
  }

  private setRoutes(want: Route4[]): void {
    const keys = new Set(want.map(routeKey));
    for (const r of this.routes) if (!keys.has(routeKey(r))) deleteRoute4(r);
    for (const r of want) addRoute4(r);
    this.routes = want;
  }

  private index(): number {
    const i = interfaceIndex(this.o.ifname);
    if (i === undefined) throw new Error(`no interface ${this.o.ifname}`);
    return i;
  }
}
