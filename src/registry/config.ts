// The registry settings of a machine config, in the shape of Talos's
// `machine.registries` (v1alpha1): mirrors per registry name, tried in order
// before the registry itself, and per-host auth and TLS. In that document
// `tls.ca` and `tls.clientIdentity.{crt,key}` are Base64Bytes: base64 of the
// PEM text. We accept the PEM text itself too (the newer RegistryTLSConfig
// document stores PEM), telling them apart by the "-----BEGIN" armour.

import { DOCKER_HUB, DOCKER_HUB_API_HOST } from "./reference.ts";

export interface RegistryMirror {
  /** "http://127.0.0.1:5001", "https://mirror.example" — an http:// endpoint is plain HTTP. */
  endpoints: string[];
  /** Use the endpoint's path as the API root instead of appending /v2 (Talos's overridePath). */
  overridePath?: boolean;
  /** Don't fall back to the registry itself when every mirror fails. */
  skipFallback?: boolean;
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 of "username:password", as in a docker config.json. */
  auth?: string;
  /** A refresh token for the registry's token server (OAuth2 refresh_token grant). */
  identityToken?: string;
}

export interface RegistryTLS {
  /** Extra trusted CA: base64 of PEM (Talos v1alpha1) or PEM. */
  ca?: string;
  /** Client certificate for mutual TLS: base64 of PEM (Talos v1alpha1) or PEM. */
  clientIdentity?: { crt: string; key: string };
  insecureSkipVerify?: boolean;
}

export interface RegistryHostConfig {
  auth?: RegistryAuth;
  tls?: RegistryTLS;
}

export interface RegistriesConfig {
  /** Keyed by registry name as in references ("docker.io", "host:5000"), or "*" for every registry. */
  mirrors?: Record<string, RegistryMirror>;
  /** Keyed by endpoint host[:port] ("127.0.0.1:5001", "registry-1.docker.io"). */
  config?: Record<string, RegistryHostConfig>;
}

/** One place to send API requests to, in the order they are tried. */
export interface Endpoint {
  /** Base URL of the API root, without trailing slash: "https://host:5000/v2". */
  readonly api: string;
  /** host[:port] as written in the URL: the key for `config`, and what errors name. */
  readonly host: string;
  readonly mirror: boolean;
  readonly settings: RegistryHostConfig;
}

/** The mirrors of `domain` in order, then (unless skipFallback) the registry itself over HTTPS. */
export function endpointsFor(domain: string, cfg: RegistriesConfig = {}): Endpoint[] {
  const mirror = cfg.mirrors?.[domain] ?? cfg.mirrors?.["*"];
  const out: Endpoint[] = [];
  for (const raw of mirror?.endpoints ?? []) out.push(endpoint(raw, true, mirror?.overridePath === true, cfg));
  if (mirror?.skipFallback !== true || out.length === 0) {
    const host = domain === DOCKER_HUB ? DOCKER_HUB_API_HOST : domain;
    out.push(endpoint(`https://${host}`, false, false, cfg, domain));
  }
  return out;
}

function endpoint(raw: string, mirror: boolean, overridePath: boolean, cfg: RegistriesConfig, alias?: string): Endpoint {
  // Talos allows a bare "host:port" endpoint; it means HTTPS.
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`registry endpoint "${raw}": only http:// and https:// are supported`);
  const path = url.pathname.replace(/\/+$/, "");
  const api = `${url.protocol}//${url.host}${overridePath ? path : `${path.replace(/\/v2$/, "")}/v2`}`;
  const settings = cfg.config?.[url.host] ?? (alias !== undefined ? cfg.config?.[alias] : undefined) ?? {};
  return { api, host: url.host, mirror, settings };
}

/** "user:password" from either form in RegistryAuth, or undefined. */
export function basicCredentials(auth: RegistryAuth | undefined): { username: string; password: string } | undefined {
  if (auth === undefined) return undefined;
  if (auth.username !== undefined && auth.username !== "") return { username: auth.username, password: auth.password ?? "" };
  if (auth.auth !== undefined && auth.auth !== "") {
    const text = Buffer.from(auth.auth, "base64").toString("utf8");
    const c = text.indexOf(":");
    if (c > 0) return { username: text.slice(0, c), password: text.slice(c + 1) };
  }
  return undefined;
}

/** PEM text from a Talos Base64Bytes field or from PEM given as is. */
export function pemText(value: string): string {
  return value.trimStart().startsWith("-----BEGIN") ? value : Buffer.from(value, "base64").toString("utf8");
}

/** The `tls` option for Bun's fetch, or undefined for plain HTTP / defaults. */
export function fetchTLS(ep: Endpoint): { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean } | undefined {
  if (!ep.api.startsWith("https:")) return undefined;
  const tls = ep.settings.tls;
  if (tls === undefined) return undefined;
  const out: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean } = {};
  if (tls.ca !== undefined && tls.ca !== "") out.ca = pemText(tls.ca);
  if (tls.clientIdentity !== undefined) {
    out.cert = pemText(tls.clientIdentity.crt);
    out.key = pemText(tls.clientIdentity.key);
  }
  if (tls.insecureSkipVerify === true) out.rejectUnauthorized = false;
  return out;
}
