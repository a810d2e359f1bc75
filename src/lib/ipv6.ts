// IPv6 addresses as text and as bytes (RFC 4291 §2.2 text forms, RFC 5952
// output), and the config checks that accept either family. Pure; shared by
// the config schema, the network phase and src/sys/net6.ts's callers.
import { checkCidr, checkIpv4, checkNetwork, isIpv4, parseCidr4 } from "./ipv4.ts";

export interface Cidr6 {
  addr: string;
  prefix: number;
}

/** "2001:db8::1" (also with an embedded IPv4 tail) -> 16 bytes; undefined when it is not IPv6. */
export function ipv6Bytes(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return undefined;
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    if (!isIpv4(maybeV4)) return undefined;
    tail.push(...maybeV4.split(".").map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`; // two groups' worth, replaced below
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...rest].map((g) => Number.parseInt(g, 16));
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail.length) out.set(tail, 12);
  return out;
}

export function isIpv6(s: string): boolean {
  return ipv6Bytes(s) !== undefined;
}

/** 16 bytes -> RFC 5952 text (lower case, the longest run of two or more zero groups as ::). */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function parseCidr6(s: string): Cidr6 | undefined {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s);
  if (!m || !isIpv6(m[1]!) || Number(m[2]) > 128) return undefined;
  return { addr: formatIpv6(ipv6Bytes(m[1]!)!), prefix: Number(m[2]) };
}

/** The network of a CIDR: host bits cleared. */
export function network6(c: Cidr6): string {
  const b = ipv6Bytes(c.addr)!;
  for (let bit = c.prefix; bit < 128; bit++) b[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return formatIpv6(b);
}

/** Config check: an IPv4 or IPv6 CIDR (Talos's interfaces[].addresses take both). */
export function checkCidr46(v: string): string | undefined {
  if (!v.includes(":")) return checkCidr(v);
  return parseCidr6(v) ? undefined : `"${v}" is not an IPv6 CIDR (e.g. 2001:db8::10/64)`;
}

/** Config check for a route's network, either family; "" or absent is Talos's default route. */
export function checkNetwork46(v: string): string | undefined {
  if (!v.includes(":")) return checkNetwork(v);
  const c = parseCidr6(v);
  if (!c) return `"${v}" is not an IPv6 CIDR`;
  return network6(c) === c.addr ? undefined : `"${v}" has host bits set (did you mean ${network6(c)}/${c.prefix}?)`;
}

export function checkIp46(v: string): string | undefined {
  if (!v.includes(":")) return checkIpv4(v);
  return isIpv6(v) ? undefined : `"${v}" is not an IPv6 address`;
}

export type IpFamily = 4 | 6;

/** An address's or CIDR's family (for ones the config checks accepted). */
export function familyOf(v: string): IpFamily {
  return v.includes(":") ? 6 : 4;
}

/** A CIDR of either family, parsed; undefined when it is neither. */
export function parseCidr46(v: string): { family: IpFamily; addr: string; prefix: number } | undefined {
  const c = v.includes(":") ? parseCidr6(v) : parseCidr4(v);
  return c ? { family: familyOf(v), ...c } : undefined;
}
