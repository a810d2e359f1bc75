// minosctl's client config (like talosctl's talosconfig): named contexts, each
// with endpoints and the CA, client certificate and key as base64 PEM.
//
//   context: default
//   contexts:
//     default:
//       endpoints: [ "192.0.2.10:50000" ]
//       ca: LS0tLS1CRUdJTi...
//       crt: LS0tLS1CRUdJTi...
//       key: LS0tLS1CRUdJTi...
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { UsageError } from "../../lib/args.ts";
import type { TlsOptions } from "../../api/transport.ts";

export interface Context {
  endpoints?: string[];
  ca?: string;
  crt?: string;
  key?: string;
}

export interface ClientConfig {
  context?: string;
  contexts?: Record<string, Context>;
}

/** The node's own socket: the default when nothing else names an endpoint (minosctl run on the node). */
export const LOCAL_ENDPOINT = "unix:/system/run/machined/machine.sock";

export function defaultConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  return env.MINOSCONFIG || join(env.HOME || "/root", ".minos", "config");
}

export function loadConfig(path: string): ClientConfig {
  if (!existsSync(path)) return {};
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`${path}: invalid client config: ${(e as Error).message.split("\n")[0]}`);
  }
  return doc && typeof doc === "object" ? (doc as ClientConfig) : {};
}

export function saveConfig(path: string, cfg: ClientConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, stringify(cfg), { mode: 0o600 });
}

/**
 * The named context (--context), else the config's current one. A name the
 * config lacks is a usage error: silently talking to another node (or the
 * local socket) than the one asked for is worse than stopping. Without a
 * name, a config with no such context (or no config at all) means defaults.
 */
export function currentContext(cfg: ClientConfig, name?: string, path = "the client config"): Context {
  if (name !== undefined) {
    const ctx = cfg.contexts && Object.hasOwn(cfg.contexts, name) ? cfg.contexts[name] : undefined;
    if (!ctx) throw new UsageError(`no context "${name}" in ${path}`);
    return ctx;
  }
  const n = cfg.context ?? "default";
  return (cfg.contexts && Object.hasOwn(cfg.contexts, n) ? cfg.contexts[n] : undefined) ?? {};
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => (s.includes("-----BEGIN") ? s : Buffer.from(s, "base64").toString("utf8"));

export function contextFor(endpoints: string[], tls?: TlsOptions): Context {
  return { endpoints, ...(tls ? { ca: b64(tls.ca), crt: b64(tls.cert), key: b64(tls.key) } : {}) };
}

/** TLS material of a context, if it has all three parts. */
export function tlsOf(ctx: Context): TlsOptions | undefined {
  if (!ctx.ca || !ctx.crt || !ctx.key) return undefined;
  return { ca: unb64(ctx.ca), cert: unb64(ctx.crt), key: unb64(ctx.key) };
}
