// Value checks for config strings: each returns the problem (shown after the
// key's path) or undefined. The ones the applied minos subset uses keep the
// exact wording init has always printed; they are our own copies so this
// capability folder imports nothing of src/init.

export type Check = (v: string) => string | undefined;

const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function toU32(addr: string): number {
  return addr.split(".").reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0);
}

function fromU32(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join(".");
}

function parseCidr4(s: string): { addr: string; prefix: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || !QUAD.test(m[1]!) || Number(m[2]) > 32) return undefined;
  return { addr: m[1]!, prefix: Number(m[2]) };
}

/** An IPv4 CIDR (IPv6 is not supported yet by the applied network code; say so rather than "invalid"). */
export const cidr4: Check = (v) => {
  if (v.includes(":")) return `"${v}": IPv6 is not supported yet (IPv4 CIDR expected)`;
  return parseCidr4(v) ? undefined : `"${v}" is not an IPv4 CIDR (a.b.c.d/n)`;
};

/** A route's destination: a CIDR whose host bits are zero (the kernel refuses others). */
export const network4: Check = (v) => {
  const problem = cidr4(v);
  if (problem) return problem;
  const c = parseCidr4(v)!;
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  const net = fromU32((toU32(c.addr) & mask) >>> 0);
  return net === c.addr ? undefined : `"${v}" has host bits set (did you mean ${net}/${c.prefix}?)`;
};

export const ipv4: Check = (v) => {
  if (v.includes(":")) return `"${v}": IPv6 is not supported yet (IPv4 address expected)`;
  return QUAD.test(v) ? undefined : `"${v}" is not an IPv4 address`;
};

/** Linux interface names: 1-15 bytes, no slash, colon or whitespace. */
export const interfaceName: Check = (v) =>
  /^[^\s/:]{1,15}$/.test(v) && v !== "." && v !== ".." ? undefined : `"${v}" is not a valid interface name (1-15 characters, no / : or spaces)`;

export const hostname: Check = (v) =>
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(v)
    ? undefined
    : `"${v}" is not a valid hostname (RFC 1123, lower case)`;

export const absolutePath: Check = (v) => (v.startsWith("/") && !v.split("/").includes("..") ? undefined : `"${v}" must be an absolute path without ..`);

export const base64Pem: Check = (v) => (/^-----BEGIN /.test(Buffer.from(v, "base64").toString("utf8")) ? undefined : "expected base64 of a PEM block");

/** `talosctl gen config` writes `key: ""` for the CAs a worker only trusts. */
export const base64PemOrEmpty: Check = (v) => (v === "" ? undefined : base64Pem(v));

export const logEndpoint: Check = (v) => (/^(tcp|udp):\/\/[^/:]+:\d+$/.test(v) ? undefined : `"${v}" must be tcp://host:port or udp://host:port`);

export const serviceId: Check = (v) => (/^[a-z][a-z0-9-]{0,62}$/.test(v) ? undefined : `"${v}" must be lower-case letters, digits and dashes`);

/** Go's time.ParseDuration syntax ("90s", "1h30m", "2m0s", "0"): Talos decodes durations from such strings. */
export const goDuration: Check = (v) =>
  v === "0" || /^[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))*$/.test(v)
    ? undefined
    : `"${v}" is not a duration (Go syntax: 300ms, 30s, 1h30m)`;

/** What Go's url.Parse would keep: an absolute URL with a scheme. */
export const url: Check = (v) => (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s]*$/.test(v) ? undefined : `"${v}" is not a URL (scheme://host...)`);

/** Standard base64 (Talos's Base64Bytes). */
export const base64: Check = (v) => (/^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0 ? undefined : "expected base64");

/** Sizes as go-humanize reads them: "4GB", "1.5 TiB", "100000000". */
export const humanSize: Check = (v) =>
  /^\s*\d+(\.\d+)?\s*([kKmMgGtTpPeE]i?[bB]?|[bB])?\s*$/.test(v) ? undefined : `"${v}" is not a size (e.g. 4GB, 512MiB, 100000000)`;

/** An install disk size condition: an optional operator and a size (">= 1TB"). */
export const sizeCondition: Check = (v) => {
  const m = /^\s*(>=|<=|==|>|<)?\s*(.*)$/.exec(v)!;
  return humanSize(m[2]!) ? `"${v}" is not a size condition (e.g. ">= 1TB", "4GB")` : undefined;
};

/** A port ("443") or an inclusive range ("1200-1299"). */
export const portRange: Check = (v) => {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v);
  if (!m) return `"${v}" is not a port range (lo-hi)`;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return lo <= 65535 && hi <= 65535 && lo <= hi ? undefined : `"${v}" is not a port range (0-65535, lo <= hi)`;
};
