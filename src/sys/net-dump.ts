// What the kernel holds: every address and every main-table route, both
// families (RTM_GETADDR / RTM_GETROUTE dumps), as raw bytes plus the fields
// the machine API shows. Read-only; the text forms are made by the caller.
import { netlinkDump, parseAttrs } from "./netlink.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_CACHEINFO = 6;
const IFA_FLAGS = 8;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
/** ifa_flags bits the API reports. */
export const IFA_F = { TEMPORARY: 0x1, NODAD: 0x2, DADFAILED: 0x8, DEPRECATED: 0x20, TENTATIVE: 0x40, PERMANENT: 0x80 } as const;

export interface KernelAddress {
  family: 4 | 6;
  index: number;
  address: Uint8Array;
  prefix: number;
  scope: number;
  flags: number;
  /** Seconds left; 0xffffffff: forever. */
  validLifetime?: number;
  preferredLifetime?: number;
}

export interface KernelRoute {
  family: 4 | 6;
  /** 0 for a route without an outgoing interface (blackhole, unreachable). */
  index: number;
  dst?: Uint8Array;
  prefix: number;
  gateway?: Uint8Array;
  source?: Uint8Array;
  metric: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

const familyOf = (f: number): 4 | 6 | undefined => (f === AF_INET ? 4 : f === AF_INET6 ? 6 : undefined);

export function dumpAddresses(): KernelAddress[] {
  const body = Buffer.alloc(8); // ifaddrmsg, family 0: all
  const out: KernelAddress[] = [];
  for (const m of netlinkDump(RTM_GETADDR, body, RTM_NEWADDR, "RTM_GETADDR dump")) {
    const family = familyOf(m.readUInt8(0));
    if (!family) continue;
    const attrs = parseAttrs(m, 8);
    const address = (family === 4 ? attrs.get(IFA_LOCAL) : undefined) ?? attrs.get(IFA_ADDRESS);
    if (!address) continue;
    const a: KernelAddress = {
      family,
      index: m.readUInt32LE(4),
      address: new Uint8Array(address),
      prefix: m.readUInt8(1),
      scope: m.readUInt8(3),
      flags: attrs.get(IFA_FLAGS)?.readUInt32LE(0) ?? m.readUInt8(2),
    };
    const ci = attrs.get(IFA_CACHEINFO);
    if (ci && ci.length >= 8) {
      a.preferredLifetime = ci.readUInt32LE(0);
      a.validLifetime = ci.readUInt32LE(4);
    }
    out.push(a);
  }
  return out;
}

/** Routes of `table` (default main), both families. */
export function dumpRoutes(table = RT_TABLE_MAIN): KernelRoute[] {
  const body = Buffer.alloc(12); // rtmsg, family 0: all
  const out: KernelRoute[] = [];
  for (const m of netlinkDump(RTM_GETROUTE, body, RTM_NEWROUTE, "RTM_GETROUTE dump")) {
    const family = familyOf(m.readUInt8(0));
    if (!family) continue;
    const attrs = parseAttrs(m, 12);
    const t = attrs.get(RTA_TABLE)?.readUInt32LE(0) ?? m.readUInt8(4);
    if (t !== table) continue;
    const r: KernelRoute = {
      family,
      index: attrs.get(RTA_OIF)?.readUInt32LE(0) ?? 0,
      prefix: m.readUInt8(1),
      metric: attrs.get(RTA_PRIORITY)?.readUInt32LE(0) ?? 0,
      table: t,
      protocol: m.readUInt8(5),
      scope: m.readUInt8(6),
      type: m.readUInt8(7),
    };
    const dst = attrs.get(RTA_DST);
    if (dst) r.dst = new Uint8Array(dst);
    const gw = attrs.get(RTA_GATEWAY);
    if (gw) r.gateway = new Uint8Array(gw);
    const src = attrs.get(RTA_PREFSRC);
    if (src) r.source = new Uint8Array(src);
    out.push(r);
  }
  return out;
}
