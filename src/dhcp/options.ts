// Typed values of the options minos reads and writes (RFC 2132, RFC 3397 for
// 119, RFC 3442 for 121). Decoders return undefined for a malformed value, so
// the lease builder can name the option it rejects.
import { ipBytes, ipFromBytes, prefixMask, u32ToIp, ipToU32 } from "./ipv4.ts";

export function encodeIps(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipBytes));
}

export function decodeIps(b: Buffer): string[] | undefined {
  if (b.length === 0 || b.length % 4 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(ipFromBytes(b, i));
  return out;
}

export function decodeIp(b: Buffer): string | undefined {
  return b.length === 4 ? ipFromBytes(b) : undefined;
}

export function encodeU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export function decodeU32(b: Buffer): number | undefined {
  return b.length === 4 ? b.readUInt32BE(0) : undefined;
}

export function encodeU16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}

export function decodeU16(b: Buffer): number | undefined {
  return b.length === 2 ? b.readUInt16BE(0) : undefined;
}

/** NVT ASCII; a trailing NUL some servers add is dropped. */
export function decodeString(b: Buffer): string | undefined {
  const s = b.toString("latin1").replace(/\0+$/, "");
  return s.length > 0 && !s.includes("\0") ? s : undefined;
}

// ---- option 119: domain search list (RFC 3397, RFC 1035 §4.1.4 compression) ----

/** Decodes the concatenated option data; pointers are offsets into it and must point backwards. */
export function decodeDomainSearch(b: Buffer): string[] | undefined {
  const names: string[] = [];
  let i = 0;
  while (i < b.length) {
    const labels: string[] = [];
    let pos = i;
    let jumped = false;
    let hops = 0;
    for (;;) {
      const len = b[pos];
      if (len === undefined) return undefined;
      if ((len & 0xc0) === 0xc0) {
        const lo = b[pos + 1];
        if (lo === undefined) return undefined;
        const target = ((len & 0x3f) << 8) | lo;
        if (!jumped) i = pos + 2;
        // A pointer must go back to an earlier name; with the hop bound no loop can hang us.
        if (target >= pos || ++hops > 64) return undefined;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) return undefined;
      if (len === 0) {
        if (!jumped) i = pos + 1;
        break;
      }
      if (pos + 1 + len > b.length) return undefined;
      labels.push(b.subarray(pos + 1, pos + 1 + len).toString("latin1"));
      pos += 1 + len;
    }
    if (labels.length === 0) return undefined;
    const name = labels.join(".");
    if (name.length > 253) return undefined;
    names.push(name);
  }
  return names;
}

/** Encodes with suffix compression, as RFC 3397 §2 recommends. */
export function encodeDomainSearch(names: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  const seen = new Map<string, number>();
  let off = 0;
  for (const name of names) {
    const labels = name.replace(/\.$/, "").split(".");
    for (let k = 0; k < labels.length; k++) {
      const suffix = labels.slice(k).join(".").toLowerCase();
      const at = seen.get(suffix);
      if (at !== undefined) {
        parts.push(Buffer.from([0xc0 | (at >> 8), at & 0xff]));
        off += 2;
        break;
      }
      if (off < 0x3fff) seen.set(suffix, off);
      const l = Buffer.from(labels[k]!, "latin1");
      if (l.length === 0 || l.length > 63) throw new Error(`bad domain label in ${name}`);
      parts.push(Buffer.from([l.length]), l);
      off += 1 + l.length;
      if (k === labels.length - 1) {
        parts.push(Buffer.from([0]));
        off += 1;
      }
    }
  }
  return Buffer.concat(parts);
}

// ---- option 121: classless static routes (RFC 3442) ----

export interface ClasslessRoute {
  dst: string;
  prefix: number;
  /** 0.0.0.0: the destination is on the link. */
  gateway: string;
}

export function encodeClasslessRoutes(routes: readonly ClasslessRoute[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of routes) {
    const sig = Math.ceil(r.prefix / 8);
    parts.push(Buffer.from([r.prefix]), ipBytes(r.dst).subarray(0, sig), ipBytes(r.gateway));
  }
  return Buffer.concat(parts);
}

export function decodeClasslessRoutes(b: Buffer): ClasslessRoute[] | undefined {
  const out: ClasslessRoute[] = [];
  let i = 0;
  while (i < b.length) {
    const prefix = b[i]!;
    if (prefix > 32) return undefined;
    const sig = Math.ceil(prefix / 8);
    if (i + 1 + sig + 4 > b.length) return undefined;
    const d = Buffer.alloc(4);
    b.copy(d, 0, i + 1, i + 1 + sig);
    // RFC 3442 §2: the destination is the significant octets masked to the width.
    const dst = u32ToIp((d.readUInt32BE(0) & prefixMask(prefix)) >>> 0);
    out.push({ dst, prefix, gateway: ipFromBytes(b, i + 1 + sig) });
    i += 1 + sig + 4;
  }
  return out.length > 0 ? out : undefined;
}

export function isZeroIp(ip: string): boolean {
  return ipToU32(ip) === 0;
}
