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
//       interfaces:                                     # static IPv4/IPv6 and DHCPv4 (docs/network.md)
//         - interface: eth0                             # the kernel's name; waited for up to 10 s
//           # or deviceSelector: { hardwareAddr: "52:54:*", driver: virtio_net, busPath: "0000:00:*", physical: true }
//           addresses: [10.0.2.15/24, 2001:db8::15/64]  # CIDRs; the first is the primary
//           routes: [ { network: 0.0.0.0/0, gateway: 10.0.2.2, metric: 1024 } ]  # gateway optional: on-link
//           mtu: 1500                                   # optional
//           dhcp: true                                  # DHCPv4 on this link
//           dhcpOptions: { routeMetric: 1024, ipv4: true }
//       nameservers: [1.1.1.1]                          # override DHCP's
//       searchDomains: [example.com]
//       disableSearchDomain: false
//       extraHostEntries: [ { ip: 10.0.0.5, aliases: [db, db.local] } ]
//       # Without interfaces, `ip=<client>::<gw>:<netmask>:<hostname>:<device>:off` on the kernel cmdline is
//       # used; with neither, DHCP runs on every physical link with carrier.
//     sysctls: { "net.ipv4.ip_forward": "1" }          # values are strings, as in Talos
//     kernel: { modules: [ { name: br_netfilter, parameters: [] } ] }
//     env: { HTTP_PROXY: ... }                          # given to every service
//     files: [ { path: /var/etc/x, content: "...", permissions: 0o644, op: create } ]  # under /var only (as Talos)
//     kubelet: { image: ghcr.io/siderolabs/kubelet:v1.30.0, extraArgs: { v: "2" } }
//     ca: { crt: <base64 PEM>, key: <base64 PEM> }     # node CA for the API's mutual TLS
//     logging: { destinations: [ { endpoint: "udp://10.0.0.1:5514", format: json_lines } ] }
//   minos:                                              # NOT Talos: minos extension
//     services:                                         # extra supervised services (used by tests)
//       - { id: web, command: [/bin/x, --flag], dependsOn: [containerd], restart: always,
//           backoff: { initialMs: 250, maxMs: 30000 }, stopGraceMs: 10000, env: {}, console: false }
//       - { id: ext, image: "registry:5000/ext:v1", mounts: [ { source: /var/ext, destination: /data,
//           options: [rbind, rw] } ], env: { K: v } }   # a container (docs/containers.md)
//   ---
//   apiVersion: v1alpha1                                # Talos's ExtensionServiceConfig, for the container service "ext":
//   kind: ExtensionServiceConfig                        # files bind-mounted read-only, env over the service's
//   name: ext
//   configFiles: [ { content: "...", mountPath: /etc/ext.conf } ]
//   environment: [ K=v ]
import { yamlLib } from "../../config/yaml-lib.ts";
import { extensionServiceConfigs, type KindDocument } from "../../config/kinds.ts";
import type { ExtensionServiceConfig } from "../../config/extension-service.ts";
import { parseConfigDocuments, validateConfigValues } from "../../config/parse.ts";
import type { V1Alpha1Config } from "../../config/v1alpha1.ts";
import { checkInstall, type InstallConfig } from "./install.ts";
import { InvalidArgumentError } from "../../lib/errors.ts";
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
  /** Destination CIDR, IPv4 or IPv6; 0.0.0.0/0 (::/0) is the default route. */
  network: string;
  /** Next hop, same family as network; absent: the network is on the link. */
  gateway?: string;
  metric?: number;
}
// ---- network: DHCP, device selectors, IPv6, resolvers, hosts (issue 13) ----
// Talos v1alpha1 names, defaults and types; see docs/network.md.
export interface DhcpOptions {
  /** Priority of the lease's routes (Talos default 1024). */
  routeMetric: number;
  /** Run DHCPv4 (Talos default true). */
  ipv4: boolean;
  /** DHCPv6: not implemented by minos; only false is accepted. */
  ipv6: boolean;
}
export interface DeviceSelector {
  /** Globs (`*`) over the link's MAC (lower case, colons), its driver, its bus path. */
  hardwareAddr?: string;
  driver?: string;
  busPath?: string;
  /** true: only physical links (backed by a device, not veth/bridge/...). */
  physical?: boolean;
}
export interface ExtraHostEntry {
  ip: string;
  aliases: string[];
}
export interface NetworkInterface {
  /** Interface name as the kernel gives it (eth0); exactly one of interface and deviceSelector. */
  interface?: string;
  deviceSelector?: DeviceSelector;
  /** IPv4 and IPv6 CIDRs. */
  addresses: string[];
  routes: NetworkRoute[];
  mtu?: number;
  /** Talos: run DHCP on this link (parseConfig fills false; absent in a plan made from ip=). */
  dhcp?: boolean;
  dhcpOptions?: DhcpOptions;
}
export interface NetworkConfig {
  /** "" when unset: DHCP's option 12, else the MAC-derived default (mechanisms/hostname.ts). */
  hostname: string;
  interfaces: NetworkInterface[];
  /** Override DHCP's resolvers. */
  nameservers: string[];
  searchDomains: string[];
  /** No search line from the DHCP domain (the configured searchDomains stay). */
  disableSearchDomain: boolean;
  extraHostEntries: ExtraHostEntry[];
}
// ---- end network additions ----
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
    network: NetworkConfig;
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
    /** Talos's machine.install (config/install.ts): the system disk. */
    install?: InstallConfig;
    /** Talos's machine type: controlplane (or its legacy alias init) runs etcd; absent or worker does not. */
    type?: "init" | "controlplane" | "worker";
  };
  /** Talos's cluster section: the keys minos applies (etcd on control-plane nodes; docs/etcd.md). */
  cluster?: {
    controlPlane?: { endpoint?: string };
    etcd?: {
      image?: string;
      ca?: { crt: string; key: string };
      extraArgs?: Record<string, string>;
      advertisedSubnets?: string[];
      listenSubnets?: string[];
    };
  };
  minos: { services: ExtraService[] };
  /** Talos's ExtensionServiceConfig documents (absent when the config has none), applied to the container services they name. */
  extensionServiceConfigs?: ExtensionServiceConfig[];
}

export { DEFAULT_DHCP_ROUTE_METRIC, DEFAULT_HOSTNAME, DEFAULT_KUBELET_IMAGE } from "../../config/v1alpha1.ts";

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
  return { config: asMachineConfig(r.config, r.documents), warnings: r.warnings };
}

/**
 * The schema's typed config as init uses it: what only init's layers can
 * judge (a disk selector's size syntax is the disks layer's) checked on top,
 * and the other documents init applies (`documents`, from the same parse)
 * attached. InvalidArgumentError with the path otherwise.
 */
export function asMachineConfig(config: V1Alpha1Config, documents: readonly KindDocument[] = []): MachineConfig {
  const errors: string[] = [];
  // Talos takes a selector size as a number of bytes too: the disks layer reads text.
  const sel = config.machine.install?.diskSelector;
  if (sel && typeof sel.size === "number") sel.size = String(sel.size);
  checkInstall(config.machine.install as InstallConfig | undefined, errors);
  if (errors.length) throw new InvalidArgumentError(`invalid machine config:\n  ${errors.join("\n  ")}`);
  const out = config as MachineConfig;
  const ext = extensionServiceConfigs(documents).map((d) => d.value);
  if (ext.length) out.extensionServiceConfigs = ext;
  return out;
}

export function parseConfig(text: string | Uint8Array): MachineConfig {
  return parseMachineConfig(text).config;
}

/** Where machine.files may write (Talos: only under /var). Everything else belongs to the OS image or to init. */
export const MACHINE_FILES_ROOT = "/var";

/**
 * machine.files rules a new config must meet (apply time; the boot's writer
 * enforces them again on every entry, so an older stored config cannot get
 * around them): a normalised path strictly under /var.
 */
export function checkMachineFiles(cfg: MachineConfig): string[] {
  const errors: string[] = [];
  cfg.machine.files.forEach((f, i) => {
    const problem = machineFilePathProblem(f.path);
    if (problem) errors.push(`machine.files[${i}].path: ${problem}`);
  });
  return errors;
}

/** Why `path` is not an allowed machine file path; undefined when it is. */
export function machineFilePathProblem(path: string): string | undefined {
  const parts = path.split("/");
  const normal = parts[0] === "" && parts.slice(1).every((p) => p !== "" && p !== "." && p !== "..");
  if (!normal) return `"${path}" must be an absolute path without empty, . or .. components`;
  if (parts[1] !== MACHINE_FILES_ROOT.slice(1) || parts.length < 3) return `"${path}" must be under ${MACHINE_FILES_ROOT}/ (as in Talos)`;
  return undefined;
}

/** The built-in default: every section at its default. */
export function defaultConfig(): MachineConfig {
  // DEFAULT_CONFIG_TEXT's one document as a value: the same validation, without loading the YAML library.
  const r = validateConfigValues([{ index: 0, value: { version: "v1alpha1" }, errors: [] }]);
  return asMachineConfig(r.config, r.documents);
}

/** The built-in default's YAML (what GetConfig-style readers see for it). */
export const DEFAULT_CONFIG_TEXT = "version: v1alpha1\n";

export function configToYaml(cfg: MachineConfig): string {
  return yamlLib().stringify(cfg);
}

/** controlplane, or Talos's legacy alias init: the nodes that run etcd. */
export function isControlPlane(cfg: MachineConfig): boolean {
  return cfg.machine.type === "controlplane" || cfg.machine.type === "init";
}

/** The CA as the API server wants it: PEM text (Talos stores base64 in the YAML). */
export function caPem(cfg: MachineConfig): { cert: string; key: string } | undefined {
  const ca = cfg.machine.ca;
  // A worker's machine.ca carries the certificate alone (`gen config` keeps the key on control planes): no TCP listener then.
  if (!ca?.key) return undefined;
  return { cert: Buffer.from(ca.crt, "base64").toString("utf8"), key: Buffer.from(ca.key, "base64").toString("utf8") };
}
