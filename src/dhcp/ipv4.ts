// Dotted-quad helpers over unsigned 32-bit numbers: what subnet checks and
// route arithmetic need, without touching src/sys.

export function ipToU32(ip: string): number | undefined {
  const p = ip.split(".");
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function u32ToIp(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function ipFromBytes(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function ipBytes(ip: string): Buffer {
  const v = ipToU32(ip);
  if (v === undefined) throw new Error(`not an IPv4 address: ${ip}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The prefix length of a contiguous netmask; undefined for a mask like 255.0.255.0. */
export function maskPrefix(mask: number): number | undefined {
  for (let p = 0; p <= 32; p++) if (prefixMask(p) === mask >>> 0) return p;
  return undefined;
}

export function sameSubnet(a: string, b: string, prefix: number): boolean {
  const x = ipToU32(a);
  const y = ipToU32(b);
  if (x === undefined || y === undefined) return false;
  const m = prefixMask(prefix);
  return (x & m) >>> 0 === (y & m) >>> 0;
}

/** The classful prefix RFC 2131 implies when a server sends no subnet mask. */
export function classfulPrefix(ip: string): number {
  const first = (ipToU32(ip) ?? 0) >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}
