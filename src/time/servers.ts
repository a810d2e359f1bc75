// Server names as the machine config gives them (Talos's machine.time.servers):
// "pool.ntp.org", "192.0.2.1", "time.example:1123", "[2001:db8::1]:123",
// "2001:db8::1". A port is a minos extension (tests run servers off port 123).
import { ipVersion } from "../lib/ip.ts";
import { NTP_PORT } from "./packet.ts";
import type { Resolver } from "./deps.ts";

export interface ServerSpec {
  host: string;
  port: number;
}

/** Talos's default when the config names no server. */
export const DEFAULT_SERVERS: readonly string[] = ["time.cloudflare.com"];

export function parseServer(s: string): ServerSpec {
  const text = s.trim();
  if (text.startsWith("/")) throw new Error(`time server ${JSON.stringify(s)}: PTP devices are not supported, give an NTP server`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw new Error(`time server ${JSON.stringify(s)}: URLs (nts://, ntp://) are not supported, give a host name or address`);
  let host = text;
  let port = NTP_PORT;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const [h, p] = text.split(":") as [string, string];
    host = h;
    port = /^\d+$/.test(p) ? Number(p) : NaN;
  }
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`time server ${JSON.stringify(s)}: expected host, host:port or [v6]:port`);
  return { host, port };
}

/**
 * getaddrinfo through Bun.dns (asynchronous: it runs off the main thread).
 * Not node:dns: that module costs PID 1 ~2.4 MiB more for the same call (a
 * bare compiled Bun program: 25.3 MiB after one lookup, 22.9 with Bun.dns).
 */
export const systemResolver: Resolver = async (name) => (await Bun.dns.lookup(name, {})).map((a) => a.address);

/** The addresses to try for a server: an IP literal as is (no DNS), a name through `resolve`. */
export async function resolveServer(spec: ServerSpec, resolve: Resolver): Promise<string[]> {
  if (ipVersion(spec.host)) return [spec.host];
  const addrs = await resolve(spec.host);
  if (addrs.length === 0) throw new Error(`${spec.host}: no addresses`);
  return addrs;
}
