// The node's hostname when neither the config nor DHCP names one: a stable
// name derived from the first physical link's MAC, in Talos's style
// (talos-xxx-yyy: base 36 of a SHA-256 prefix; Talos hashes its node id,
// minos the MAC, as it has no node id). "minos-" plus 3 + 3 characters; the
// same NIC always gives the same name, and a node without one is "minos".
import type { LinkInfo } from "./links.ts";

export const FALLBACK_HOSTNAME = "minos";

export function hostnameFromMac(mac: string): string {
  const digest = Buffer.from(new Bun.CryptoHasher("sha256").update(mac.toLowerCase()).digest());
  const b36 = digest.readBigUInt64BE(0).toString(36).padStart(13, "0");
  return `minos-${b36.slice(1, 4)}-${b36.slice(4, 7)}`;
}

/** The default for these links: from the first physical link's MAC (by name), else FALLBACK_HOSTNAME. */
export function stableDefaultHostname(links: readonly LinkInfo[]): string {
  const first = links.find((l) => l.physical && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(l.hardwareAddr) && l.hardwareAddr !== "00:00:00:00:00:00");
  return first ? hostnameFromMac(first.hardwareAddr) : FALLBACK_HOSTNAME;
}

/** Talos's precedence: the config's, then DHCP's (option 12, the first link's lease that has one), then the default. */
export function chooseHostname(
  configured: string,
  fromDhcp: readonly (string | undefined)[],
  stableDefault: string,
): { name: string; source: "config" | "dhcp" | "default" } {
  if (configured) return { name: configured, source: "config" };
  // Option 12 may carry a domain; the kernel's hostname is the first label (Talos splits it too).
  // A server's name that is no RFC 1123 label is passed over: it reaches sethostname and /etc/hosts.
  const d = fromDhcp.map((h) => h?.split(".")[0]?.toLowerCase()).find((h) => h !== undefined && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(h));
  if (d) return { name: d, source: "dhcp" };
  return { name: stableDefault, source: "default" };
}
