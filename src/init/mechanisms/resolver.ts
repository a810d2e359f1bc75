// /etc/resolv.conf and /etc/hosts: their content from the config and the DHCP
// leases (pure), and an atomic write (temp file + rename in the same
// directory), so a resolver reading either file never sees half of one.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ExtraHostEntry, NetworkConfig } from "../config/machine.ts";

export const RESOLV_CONF = "/etc/resolv.conf";
export const HOSTS = "/etc/hosts";
/** glibc reads at most 3 nameservers and 6 search domains (resolv.conf(5)); more would be silently dropped. */
export const MAX_NAMESERVERS = 3;
export const MAX_SEARCH = 6;

export interface Resolvers {
  nameservers: string[];
  search: string[];
  /** Where the nameservers came from. */
  source: "config" | "dhcp" | "none";
}

export interface LeaseResolvers {
  dns: readonly string[];
  /** Option 119, or option 15 as a one-entry list (src/dhcp hostSettings). */
  search: readonly string[];
}

const uniq = (xs: readonly string[]) => [...new Set(xs)];

/**
 * A name a DHCP server sent, as a DNS name fit for resolv.conf and hosts
 * (lower case, RFC 1123 labels, at most 253 characters); undefined for
 * anything else. The server's text is untrusted: a newline in option 15
 * would otherwise add lines ("nameserver 6.6.6.6") to resolv.conf.
 */
export function safeDnsName(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const n = s.toLowerCase().replace(/\.$/, "");
  return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(n) ? n : undefined;
}

/** Talos's precedence: machine.network.nameservers replace DHCP's; search = searchDomains + DHCP's unless disableSearchDomain. */
export function resolversFor(net: Pick<NetworkConfig, "nameservers" | "searchDomains" | "disableSearchDomain">, leases: readonly LeaseResolvers[]): Resolvers {
  const fromDhcp = uniq(leases.flatMap((l) => l.dns));
  const nameservers = net.nameservers.length > 0 ? uniq(net.nameservers) : fromDhcp;
  const fromLeases = leases.flatMap((l) => l.search.map(safeDnsName).filter((d): d is string => d !== undefined));
  const search = uniq([...net.searchDomains, ...(net.disableSearchDomain ? [] : fromLeases)]);
  return {
    nameservers: nameservers.slice(0, MAX_NAMESERVERS),
    search: search.slice(0, MAX_SEARCH),
    source: net.nameservers.length > 0 ? "config" : fromDhcp.length > 0 ? "dhcp" : "none",
  };
}

export function renderResolvConf(r: Resolvers): string {
  const lines = ["# written by minos (machine.network.nameservers, searchDomains, DHCP)"];
  for (const ns of r.nameservers) lines.push(`nameserver ${ns}`);
  if (r.search.length > 0) lines.push(`search ${r.search.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** localhost lines, the node's own name on 127.0.1.1 (as Debian and Talos do), then machine.network.extraHostEntries. */
export function renderHosts(hostname: string, domain: string | undefined, extra: readonly ExtraHostEntry[]): string {
  const d = safeDnsName(domain);
  const fqdn = d && !hostname.includes(".") ? `${hostname}.${d}` : undefined;
  const lines = [
    "# written by minos (hostname, machine.network.extraHostEntries)",
    "127.0.0.1 localhost",
    "::1 localhost ip6-localhost ip6-loopback",
    `127.0.1.1 ${fqdn ? `${fqdn} ` : ""}${hostname}`,
  ];
  for (const e of extra) if (e.aliases.length > 0) lines.push(`${e.ip} ${e.aliases.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** Writes `content` to `path` through a temp file in its directory, fsync, rename; false when it was already so. */
export function writeAtomic(path: string, content: string, mode = 0o644): boolean {
  try {
    if (readFileSync(path, "utf8") === content) return false;
  } catch {}
  const tmp = join(dirname(path), `.${path.slice(path.lastIndexOf("/") + 1)}.minos-${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return true;
}
