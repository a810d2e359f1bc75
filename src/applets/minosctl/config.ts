// minosctl's client config, in talosctl's talosconfig format: named contexts,
// each with endpoints (where to connect), nodes (which nodes calls are for by
// default) and the CA, client certificate and key as base64 PEM. A
// talosconfig written by talosctl or `minosctl gen config` works as is.
//
//   context: default
//   contexts:
//     default:
//       endpoints: [ "192.0.2.10" ]
//       nodes: [ "192.0.2.10", "192.0.2.11" ]
//       ca: LS0tLS1CRUdJTi...
//       crt: LS0tLS1CRUdJTi...
//       key: LS0tLS1CRUdJTi...
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { yamlLib } from "../../config/yaml-lib.ts";
import { UsageError } from "../../lib/args.ts";
import type { TlsOptions } from "../../api/transport.ts";

export interface Context {
  endpoints?: string[];
  nodes?: string[];
  ca?: string;
  crt?: string;
  key?: string;
}

export interface ClientConfig {
  context?: string;
  contexts?: Record<string, Context>;
}

/** The config file when no flag names one: $MINOSCONFIG, $TALOSCONFIG, else ~/.minos/config. */
export function defaultConfigPath(env: Readonly<Record<string, string | undefined>>): { path: string; explicit: boolean } {
  const named = env.MINOSCONFIG || env.TALOSCONFIG;
  return named ? { path: named, explicit: true } : { path: join(env.HOME || "/root", ".minos", "config"), explicit: false };
}

/**
 * Reads a client config. Only the default path may be missing (meaning: no
 * config); a file that a flag or variable named must exist and be readable,
 * or minosctl would silently talk to another node than the one meant.
 */
export function loadConfig(path: string, explicit = false): ClientConfig {
  if (!explicit && !existsSync(path)) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: cannot read the client config${code === "ENOENT" ? ": no such file" : code ? `: ${code}` : ""}`);
  }
  let doc: unknown;
  try {
    doc = yamlLib().parse(text);
  } catch (e) {
    throw new UsageError(`${path}: invalid client config: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${path}: invalid client config: not a map`);
  return doc as ClientConfig;
}

export function saveConfig(path: string, cfg: ClientConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, yamlLib().stringify(cfg), { mode: 0o600 });
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

/** The current context's name: --context, else the config's `context`, else "default". */
export function currentContextName(cfg: ClientConfig, name?: string): string {
  return name ?? cfg.context ?? "default";
}

export function contextFor(endpoints: string[], tls?: TlsOptions): Context {
  return { endpoints, ...(tls ? { ca: b64(tls.ca), crt: b64(tls.cert), key: b64(tls.key) } : {}) };
}

/** TLS material of a context, if it has all three parts. */
export function tlsOf(ctx: Context): TlsOptions | undefined {
  if (!ctx.ca || !ctx.crt || !ctx.key) return undefined;
  return { ca: unb64(ctx.ca), cert: unb64(ctx.crt), key: unb64(ctx.key) };
}
