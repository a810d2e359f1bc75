// What an ACK grants, checked before anything is applied: a lease the node
// could not use (no server id, lease time 0, a router off the subnet, a broken
// mask or route list) is refused with a reason, so the client ignores that
// packet and keeps waiting, as RFC 2131 lets a client ignore a bad reply.
import { Opt, type DhcpMessage } from "./message.ts";
import { classfulPrefix, ipToU32, maskPrefix, sameSubnet } from "./ipv4.ts";
import {
  decodeClasslessRoutes,
  decodeDomainSearch,
  decodeIp,
  decodeIps,
  decodeString,
  decodeU16,
  decodeU32,
  isZeroIp,
  type ClasslessRoute,
} from "./options.ts";

/** 0xffffffff seconds: RFC 2131 §3.3 "infinity". */
export const INFINITE_LEASE = 0xffffffff;

export interface Lease {
  address: string;
  prefix: number;
  serverId: string;
  /** Seconds; INFINITE_LEASE for an infinite lease. */
  leaseSeconds: number;
  t1Seconds: number;
  t2Seconds: number;
  /** Option 3, in order. */
  routers: string[];
  /** Option 121; when present, option 3 must be ignored (RFC 3442 §DHCP Client Behavior). */
  classlessRoutes: ClasslessRoute[];
  dns: string[];
  domainName?: string;
  search: string[];
  hostname?: string;
  mtu?: number;
  broadcast?: string;
  /** Clock time (ms) of the REQUEST this ACK answered: the lease's times count from then (RFC 2131 §4.4.1). */
  obtainedAt: number;
}

export type LeaseResult = { ok: true; lease: Lease } | { ok: false; reason: string };

/** The routes a lease asks for: option 121 when present, else a default route via the first router of option 3. */
export function leaseRoutes(l: Lease): ClasslessRoute[] {
  if (l.classlessRoutes.length > 0) return l.classlessRoutes;
  const gw = l.routers[0];
  return gw ? [{ dst: "0.0.0.0", prefix: 0, gateway: gw }] : [];
}

export function leaseFromAck(m: DhcpMessage, obtainedAt: number): LeaseResult {
  const o = m.options;
  const address = m.yiaddr;
  const a = ipToU32(address);
  if (a === undefined || a === 0 || a === 0xffffffff || a >>> 28 >= 14) return { ok: false, reason: `unusable yiaddr ${address}` };
  const sid = o.get(Opt.serverId);
  const serverId = sid && decodeIp(sid);
  if (!serverId) return { ok: false, reason: "no server identifier (option 54)" };
  const lt = o.get(Opt.leaseTime);
  const leaseSeconds = lt ? decodeU32(lt) : undefined;
  if (leaseSeconds === undefined) return { ok: false, reason: "no lease time (option 51)" };
  if (leaseSeconds === 0) return { ok: false, reason: "lease time 0" };

  let prefix = classfulPrefix(address);
  const maskOpt = o.get(Opt.subnetMask);
  if (maskOpt) {
    const mask = decodeU32(maskOpt);
    const p = mask === undefined ? undefined : maskPrefix(mask);
    if (p === undefined || p === 0) return { ok: false, reason: `bad subnet mask ${maskOpt.toString("hex")}` };
    prefix = p;
  }

  const list = (code: number, name: string): string[] | string => {
    const v = o.get(code);
    if (!v) return [];
    return decodeIps(v) ?? `malformed ${name} (option ${code})`;
  };
  const routers = list(Opt.router, "router");
  if (typeof routers === "string") return { ok: false, reason: routers };
  const dns = list(Opt.dns, "DNS servers");
  if (typeof dns === "string") return { ok: false, reason: dns };

  let classlessRoutes: ClasslessRoute[] = [];
  const cr = o.get(Opt.classlessRoutes);
  if (cr) {
    const r = decodeClasslessRoutes(cr);
    if (!r) return { ok: false, reason: "malformed classless static routes (option 121)" };
    classlessRoutes = r;
  }
  // A next hop must be reachable: on the leased subnet, or inside an on-link route of option 121.
  const onLink = classlessRoutes.filter((r) => isZeroIp(r.gateway));
  const reachable = (gw: string) => sameSubnet(gw, address, prefix) || onLink.some((r) => sameSubnet(gw, r.dst, r.prefix));
  if (classlessRoutes.length > 0) {
    const bad = classlessRoutes.find((r) => !isZeroIp(r.gateway) && !reachable(r.gateway));
    if (bad) return { ok: false, reason: `classless route ${bad.dst}/${bad.prefix} via ${bad.gateway} outside ${address}/${prefix}` };
  } else if (routers[0] && !reachable(routers[0])) {
    return { ok: false, reason: `router ${routers[0]} outside ${address}/${prefix}` };
  }

  // T1/T2 defaults and ordering (RFC 2131 §4.4.5): 0.5 and 0.875 of the lease, T1 < T2 < lease.
  const t1o = o.get(Opt.renewalTime);
  const t2o = o.get(Opt.rebindingTime);
  let t1 = t1o ? decodeU32(t1o) : undefined;
  let t2 = t2o ? decodeU32(t2o) : undefined;
  if (leaseSeconds !== INFINITE_LEASE) {
    if (t2 === undefined || t2 >= leaseSeconds) t2 = Math.floor(leaseSeconds * 0.875);
    if (t1 === undefined || t1 >= t2) t1 = Math.min(Math.floor(leaseSeconds * 0.5), t2);
  } else {
    t1 = t2 = INFINITE_LEASE;
  }

  const search: string[] = [];
  const ds = o.get(Opt.domainSearch);
  if (ds) {
    const names = decodeDomainSearch(ds);
    if (!names) return { ok: false, reason: "malformed domain search list (option 119)" };
    search.push(...names);
  }
  const lease: Lease = { address, prefix, serverId, leaseSeconds, t1Seconds: t1, t2Seconds: t2, routers, classlessRoutes, dns, search, obtainedAt };
  const hn = o.get(Opt.hostname);
  const hostname = hn && decodeString(hn);
  if (hostname) lease.hostname = hostname;
  const dn = o.get(Opt.domainName);
  const domainName = dn && decodeString(dn);
  if (domainName) lease.domainName = domainName;
  const mtuOpt = o.get(Opt.mtu);
  const mtu = mtuOpt && decodeU16(mtuOpt);
  if (mtu && mtu >= 68) lease.mtu = mtu;
  const bo = o.get(Opt.broadcast);
  const broadcast = bo && decodeIp(bo);
  if (broadcast) lease.broadcast = broadcast;
  return { ok: true, lease };
}

/** True when two leases would configure the node the same way (a renewal that changes nothing to apply). */
export function sameConfig(a: Lease, b: Lease): boolean {
  const strip = (l: Lease) => JSON.stringify({ ...l, obtainedAt: 0, leaseSeconds: 0, t1Seconds: 0, t2Seconds: 0 });
  return strip(a) === strip(b);
}
