// The machine config: a documented subset of Talos's v1alpha1 schema, plus one
// minos extension section. Parsing is pure (YAML text in, a typed config or an
// InvalidArgumentError naming every bad path out), so it is unit-tested and the
// API's ApplyConfiguration uses the same function as the boot.
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
import { parse as parseYaml, stringify } from "yaml";
import { InvalidArgumentError } from "../../lib/errors.ts";
import { checkCidr, checkInterfaceName, checkIpv4, checkNetwork } from "../../lib/ipv4.ts";
import { bool, int, list, map, obj, opt, req, str, validate } from "./schema.ts";
import { checkInstall, INSTALL_FIELD, type InstallConfig } from "./install.ts";

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
export type RestartPolicy = "always" | "on-failure" | "never";
export interface ExtraService {
  id: string;
  command: string[];
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
    kubelet: { image: string; extraArgs: Record<string, string> };
    ca?: { crt: string; key: string };
    logging: { destinations: LoggingDestination[] };
    /** Talos's machine.install (config/install.ts): the system disk. */
    install?: InstallConfig;
  };
  minos: { services: ExtraService[] };
}

export const DEFAULT_KUBELET_IMAGE = "ghcr.io/siderolabs/kubelet:v1.30.0";
export const DEFAULT_HOSTNAME = "minos";

const hostname = (v: string) =>
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(v)
    ? undefined
    : `"${v}" is not a valid hostname (RFC 1123, lower case)`;
const absolute = (v: string) => (v.startsWith("/") && !v.split("/").includes("..") ? undefined : `"${v}" must be an absolute path without ..`);
const base64Pem = (v: string) => (/^-----BEGIN /.test(Buffer.from(v, "base64").toString("utf8")) ? undefined : "expected base64 of a PEM block");
const endpoint = (v: string) => (/^(tcp|udp):\/\/[^/:]+:\d+$/.test(v) ? undefined : `"${v}" must be tcp://host:port or udp://host:port`);
const serviceId = (v: string) => (/^[a-z][a-z0-9-]{0,62}$/.test(v) ? undefined : `"${v}" must be lower-case letters, digits and dashes`);

const SCHEMA = obj({
  version: req(str({ oneOf: ["v1alpha1"] })),
  machine: opt(
    obj({
      network: opt(
        obj({
          hostname: opt(str({ check: hostname }), () => DEFAULT_HOSTNAME),
          interfaces: opt(
            list(
              obj({
                interface: req(str({ check: checkInterfaceName })),
                addresses: opt(list(str({ check: checkCidr })), () => []),
                routes: opt(
                  list(obj({ network: req(str({ check: checkNetwork })), gateway: opt(str({ check: checkIpv4 })), metric: opt(int({ min: 0 })) })),
                  () => [],
                ),
                mtu: opt(int({ min: 68, max: 65535 })),
              }),
            ),
            () => [],
          ),
        }),
        () => ({}),
      ),
      sysctls: opt(map(str()), () => ({})),
      kernel: opt(obj({ modules: opt(list(obj({ name: req(str()), parameters: opt(list(str()), () => []) })), () => []) }), () => ({ modules: [] })),
      env: opt(map(str()), () => ({})),
      files: opt(
        list(
          obj({
            path: req(str({ check: absolute })),
            content: req(str()),
            permissions: opt(int({ min: 0, max: 0o7777 }), () => 0o644),
            op: opt(str({ oneOf: ["create", "append", "overwrite"] }), () => "create"),
          }),
        ),
        () => [],
      ),
      kubelet: opt(obj({ image: opt(str(), () => DEFAULT_KUBELET_IMAGE), extraArgs: opt(map(str()), () => ({})) }), () => ({})),
      ca: opt(obj({ crt: req(str({ check: base64Pem })), key: req(str({ check: base64Pem })) })),
      logging: opt(
        obj({
          destinations: opt(
            list(obj({ endpoint: req(str({ check: endpoint })), format: req(str({ oneOf: ["json_lines"] })), extraTags: opt(map(str()), () => ({})) })),
            () => [],
          ),
        }),
        () => ({}),
      ),
      install: INSTALL_FIELD,
    }),
    () => ({}),
  ),
  minos: opt(
    obj({
      services: opt(
        list(
          obj({
            id: req(str({ check: serviceId })),
            command: req(list(str())),
            dependsOn: opt(list(str()), () => []),
            restart: opt(str({ oneOf: ["always", "on-failure", "never"] }), () => "on-failure"),
            backoff: opt(obj({ initialMs: opt(int({ min: 1 }), () => 250), maxMs: opt(int({ min: 1 }), () => 30_000) }), () => ({})),
            stopGraceMs: opt(int({ min: 0 }), () => 10_000),
            env: opt(map(str()), () => ({})),
            console: opt(bool(), () => false),
          }),
        ),
        () => [],
      ),
    }),
    () => ({}),
  ),
});

/** Parses and validates; throws InvalidArgumentError listing every problem with its path. */
export function parseConfig(text: string): MachineConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (e) {
    throw new InvalidArgumentError(`config: invalid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
  const errors: string[] = [];
  const out = validate(doc ?? null, SCHEMA, "", errors) as MachineConfig | undefined;
  if (out) {
    checkServices(out, errors);
    checkInterfaces(out, errors);
    checkInstall(out.machine.install, errors);
  }
  if (errors.length > 0 || !out) throw new InvalidArgumentError(`invalid machine config:\n  ${errors.join("\n  ")}`);
  return out;
}

const BUILTIN_IDS = ["udevd", "containerd", "dashboard", "kubelet"];

/** Cross-field rules the walker cannot express: unique ids, known dependencies, no empty commands. */
function checkServices(cfg: MachineConfig, errors: string[]): void {
  const ids = new Set(BUILTIN_IDS);
  cfg.minos.services.forEach((s, i) => {
    if (ids.has(s.id)) errors.push(`minos.services[${i}].id: "${s.id}" is already a service`);
    ids.add(s.id);
    if (s.command.length === 0) errors.push(`minos.services[${i}].command: must not be empty`);
    else if (!s.command[0]!.startsWith("/")) errors.push(`minos.services[${i}].command[0]: "${s.command[0]}" must be an absolute path`);
  });
  cfg.minos.services.forEach((s, i) =>
    s.dependsOn.forEach((d, j) => {
      if (!ids.has(d)) errors.push(`minos.services[${i}].dependsOn[${j}]: unknown service "${d}"`);
    }),
  );
}

/** An interface is configured once: a second entry would silently fight the first. */
function checkInterfaces(cfg: MachineConfig, errors: string[]): void {
  const seen = new Set<string>();
  cfg.machine.network.interfaces.forEach((i, n) => {
    if (seen.has(i.interface)) errors.push(`machine.network.interfaces[${n}].interface: "${i.interface}" is configured twice`);
    seen.add(i.interface);
  });
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
  if (!ca) return undefined;
  return { cert: Buffer.from(ca.crt, "base64").toString("utf8"), key: Buffer.from(ca.key, "base64").toString("utf8") };
}
