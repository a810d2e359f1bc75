// The machine config as init uses it: the keys of Talos's v1alpha1 schema that
// minos applies (the types below), plus one minos extension section. The whole
// schema — every Talos 1.7 key, applied or accepted-not-applied, other document
// kinds, limits — is src/config; parsing is pure (YAML text in, a typed config
// or an InvalidArgumentError naming every bad path out), and the API's
// ApplyConfiguration uses the same function as the boot.
//
//   version: v1alpha1
//   machine:
//     network:
//       hostname: node-1
//       interfaces:                                     # static IPv4 (Talos's subset; no DHCP, no IPv6 yet)
//         - interface: eth0                             # the kernel's name; waited for up to 10 s
//           addresses: [10.0.2.15/24]                   # CIDRs; the first is the primary
//           routes: [ { network: 0.0.0.0/0, gateway: 10.0.2.2, metric: 1024 } ]  # gateway optional: on-link
//           mtu: 1500                                   # optional
//       # Without interfaces, `ip=<client>::<gw>:<netmask>:<hostname>:<device>:off` on the kernel cmdline is used.
//     sysctls: { "net.ipv4.ip_forward": "1" }          # values are strings, as in Talos
//     kernel: { modules: [ { name: br_netfilter, parameters: [] } ] }
//     env: { HTTP_PROXY: ... }                          # given to every service
//     files: [ { path: /var/etc/x, content: "...", permissions: 0o644, op: create } ]
//     kubelet: { image: ghcr.io/siderolabs/kubelet:v1.30.0, extraArgs: { v: "2" } }
//     ca: { crt: <base64 PEM>, key: <base64 PEM> }     # node CA for the API's mutual TLS
//     logging: { destinations: [ { endpoint: "udp://10.0.0.1:5514", format: json_lines } ] }
//   minos:                                              # NOT Talos: minos extension
//     services:                                         # extra supervised services (used by tests)
//       - { id: web, command: [/bin/x, --flag], dependsOn: [containerd], restart: always,
//           backoff: { initialMs: 250, maxMs: 30000 }, stopGraceMs: 10000, env: {}, console: false }
//       - { id: ext, image: "registry:5000/ext:v1", mounts: [ { source: /var/ext, destination: /data,
//           options: [rbind, rw] } ], env: { K: v } }   # a container (docs/containers.md)
import { stringify } from "yaml";
import { parseConfigDocuments } from "../../config/parse.ts";
import type { RegistriesConfig, RegistryAuth } from "../../registry/config.ts";

export interface KernelModule {
  name: string;
  parameters: string[];
}
export interface MachineFile {
  path: string;
  content: string;
  permissions: number;
  op: "create" | "append" | "overwrite";
}
export interface LoggingDestination {
  endpoint: string;
  format: "json_lines";
  extraTags: Record<string, string>;
}
export interface NetworkRoute {
  /** Destination CIDR; 0.0.0.0/0 is the default route. */
  network: string;
  /** Next hop; absent: the network is on the link. */
  gateway?: string;
  metric?: number;
}
export interface NetworkInterface {
  /** Interface name as the kernel gives it (eth0). */
  interface: string;
  /** IPv4 CIDRs. */
  addresses: string[];
  routes: NetworkRoute[];
  mtu?: number;
}
/** machine.registries as the schema parses it (a clientIdentity may lack a half). */
export interface MachineRegistries {
  mirrors?: Record<string, { endpoints: string[]; overridePath?: boolean }>;
  config?: Record<string, { tls?: { clientIdentity?: { crt?: string; key?: string }; ca?: string; insecureSkipVerify?: boolean }; auth?: RegistryAuth }>;
}

/** The registry client's settings from machine.registries (a client identity counts only with both halves). */
export function registriesConfig(r: MachineRegistries | undefined): RegistriesConfig {
  const out: RegistriesConfig = {};
  if (r?.mirrors) out.mirrors = r.mirrors;
  if (r?.config) {
    out.config = {};
    for (const [host, c] of Object.entries(r.config)) {
      const id = c.tls?.clientIdentity;
      const tls = c.tls ? { ...c.tls, clientIdentity: id?.crt && id.key ? { crt: id.crt, key: id.key } : undefined } : undefined;
      if (tls && !tls.clientIdentity) delete tls.clientIdentity;
      out.config[host] = { ...(c.auth ? { auth: c.auth } : {}), ...(tls ? { tls: tls as NonNullable<RegistriesConfig["config"]>[string]["tls"] } : {}) };
    }
  }
  return out;
}

/** Talos's kubelet extraMounts entry (an OCI mount). */
export interface KubeletExtraMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}
export type RestartPolicy = "always" | "on-failure" | "never";
export interface ExtraServiceMount {
  source: string;
  destination: string;
  type: string;
  options: string[];
}
export interface ExtraService {
  id: string;
  /** Without image: the command (absolute path first). With image: replaces the image's entrypoint and cmd when not empty. */
  command: string[];
  /** Run as a container of this image (Talos's extension services). */
  image?: string;
  mounts: ExtraServiceMount[];
  dependsOn: string[];
  restart: RestartPolicy;
  backoff: { initialMs: number; maxMs: number };
  stopGraceMs: number;
  env: Record<string, string>;
  /** Mirror the service's output on the node console (tests watch it). */
  console: boolean;
}
export interface MachineConfig {
  version: "v1alpha1";
  machine: {
    network: { hostname: string; interfaces: NetworkInterface[] };
    sysctls: Record<string, string>;
    kernel: { modules: KernelModule[] };
    env: Record<string, string>;
    files: MachineFile[];
    kubelet: { image: string; extraArgs: Record<string, string>; extraMounts?: KubeletExtraMount[] };
    /** Talos's machine.registries: mirrors (tried in order, then the registry) and per-host auth/TLS (src/registry/config.ts). */
    registries?: MachineRegistries;
    ca?: { crt: string; key: string };
    logging: { destinations: LoggingDestination[] };
    /** Talos's machine.time: SNTP servers (default time.cloudflare.com), off switch, how long the boot waits. */
    time?: { disabled?: boolean; servers?: string[]; bootTimeout?: string };
  };
  minos: { services: ExtraService[] };
}

export { DEFAULT_HOSTNAME, DEFAULT_KUBELET_IMAGE } from "../../config/v1alpha1.ts";

/** A parsed config and the warnings for the keys it has that minos accepts but does not apply. */
export interface ParsedMachineConfig {
  config: MachineConfig;
  warnings: string[];
}

/**
 * Parses and validates with the Talos v1alpha1 schema (src/config): the
 * multi-document form talosctl writes, every Talos 1.7 key type-checked, the
 * limits enforced before any expensive work. Throws InvalidArgumentError
 * listing every problem with its YAML path.
 */
export function parseMachineConfig(text: string | Uint8Array): ParsedMachineConfig {
  const r = parseConfigDocuments(text);
  return { config: r.config, warnings: r.warnings };
}

export function parseConfig(text: string | Uint8Array): MachineConfig {
  return parseMachineConfig(text).config;
}

/** The built-in default: every section at its default. */
export function defaultConfig(): MachineConfig {
  return parseConfig("version: v1alpha1\n");
}

export function configToYaml(cfg: MachineConfig): string {
  return stringify(cfg);
}

/** The CA as the API server wants it: PEM text (Talos stores base64 in the YAML). */
export function caPem(cfg: MachineConfig): { cert: string; key: string } | undefined {
  const ca = cfg.machine.ca;
  // A worker's machine.ca carries the certificate alone (`gen config` keeps the key on control planes): no TCP listener then.
  if (!ca?.key) return undefined;
  return { cert: Buffer.from(ca.crt, "base64").toString("utf8"), key: Buffer.from(ca.key, "base64").toString("utf8") };
}
