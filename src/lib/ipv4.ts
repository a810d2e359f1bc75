// IPv4 addresses as text and as numbers: parsing, masks, networks, and the
// checks config validation uses (each returns the problem in words, or
// undefined). Pure; shared by the config schema, the network mechanism and DHCP.

export interface Cidr4 {
  addr: string;
  prefix: number;
}

const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return QUAD.test(s);
}

function toU32(addr: string): number {
  return addr.split(".").reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0);
}

function fromU32(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
}

/** "10.0.2.15/24" -> { addr, prefix }; undefined when it is not an IPv4 CIDR. */
export function parseCidr4(s: string): Cidr4 | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) return undefined;
  return { addr: m[1]!, prefix: Number(m[2]) };
}

/** "255.255.255.0" -> 24; undefined for a non-contiguous or malformed mask. */
export function netmaskPrefix(mask: string): number | undefined {
  if (!isIpv4(mask)) return undefined;
  const n = toU32(mask);
  const prefix = 32 - Math.log2(((~n >>> 0) + 1) >>> 0 || 2 ** 32);
  if (!Number.isInteger(prefix)) return undefined;
  return prefix;
}

/** The network a CIDR's host bits belong to: 10.0.2.15/24 -> 10.0.2.0. */
export function networkOf(c: Cidr4): string {
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return fromU32((toU32(c.addr) & mask) >>> 0);
}

/** Config check: an IPv4 CIDR (IPv6 is not supported yet; say so rather than "invalid"). */
export function checkCidr(v: string): string | undefined {
  if (v.includes(":")) return `"${v}": IPv6 is not supported yet (IPv4 CIDR expected)`;
  return parseCidr4(v) ? undefined : `"${v}" is not an IPv4 CIDR (a.b.c.d/n)`;
}

/** Config check for a route's network: a CIDR whose host bits are zero (the kernel refuses others). */
export function checkNetwork(v: string): string | undefined {
  const problem = checkCidr(v);
  if (problem) return problem;
  const c = parseCidr4(v)!;
  return networkOf(c) === c.addr ? undefined : `"${v}" has host bits set (did you mean ${networkOf(c)}/${c.prefix}?)`;
}

export function checkIpv4(v: string): string | undefined {
  if (v.includes(":")) return `"${v}": IPv6 is not supported yet (IPv4 address expected)`;
  return isIpv4(v) ? undefined : `"${v}" is not an IPv4 address`;
}

/** Linux interface names: 1-15 bytes, no slash, colon or whitespace. */
export function checkInterfaceName(v: string): string | undefined {
  return /^[^\s/:]{1,15}$/.test(v) && v !== "." && v !== ".." ? undefined : `"${v}" is not a valid interface name (1-15 characters, no / : or spaces)`;
}
