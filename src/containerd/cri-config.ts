// containerd's CRI plugin section ([plugins."io.containerd.grpc.v1.cri"],
// config schema version 2, containerd 1.6): how Kubernetes pods run on a minos
// node. One containerd serves both worlds (docs/containers.md): minos's system
// containers in namespace "system", the kubelet's pods through this plugin in
// namespace "k8s.io".
//
// The rootfs's /etc/containerd/config.toml carries this section with the
// defaults below, and imports CRI_CONFIG_DROPIN, which init rewrites before
// containerd starts with what only the running node knows (is / the initramfs?
// are the cgroup controllers there? may oom scores go down?). containerd merges
// an import per plugin table: the drop-in's CRI table replaces the whole one,
// so it is always written complete, by this same function.

/** The pod sandbox ("pause") image: Talos 1.7's containerd default; tests provide a stand-in under this name. */
export const CRI_SANDBOX_IMAGE = "registry.k8s.io/pause:3.8";
/** Where CNI plugins live (Talos's path: outside /bin and /sbin, so the seed's twelve stays twelve). */
export const CNI_BIN_DIR = "/opt/cni/bin";
/** Where a cluster's CNI installer writes its network config; the CRI plugin watches it. */
export const CNI_CONF_DIR = "/etc/cni/net.d";
/**
 * The CRI plugin's registry hosts directory (containerd's config_path): one
 * <registry>/hosts.toml per registry with mirrors or TLS settings, written by
 * init from machine.registries. containerd reads it at each pull.
 */
export const CRI_REGISTRY_HOSTS_DIR = "/run/containerd/certs.d";
/** The file init writes for containerd to import (under /run: the rootfs stays read-only). */
export const CRI_CONFIG_DROPIN = "/run/containerd/conf.d/cri.toml";
/** The import pattern in config.toml: a glob, so containerd starts without the file (Go's filepath.Glob finds nothing, no error). */
export const CRI_CONFIG_IMPORTS = "/run/containerd/conf.d/*.toml";

export interface CriNodeFacts {
  /**
   * runc moves into a container's root with MS_MOVE + chroot instead of
   * pivot_root(2): needed when the node's / is the kernel's initramfs, where
   * pivot_root is refused (minos's own runner does the same there).
   */
  noPivotRoot: boolean;
  /**
   * Pods get no cgroup settings at all: the CRI plugin always gives a pod
   * sandbox cpu shares (runc writes cpu.weight), which fails when the
   * hierarchy has no cpu controller (a sandbox on a host whose controllers are
   * all on cgroup v1).
   */
  disableCgroup: boolean;
  /**
   * Pods' oom_score_adj is never set below containerd's own: the CRI plugin
   * gives a sandbox -998, and lowering a score needs CAP_SYS_RESOURCE.
   */
  restrictOomScoreAdj: boolean;
}

/** A node with nothing to work around: a booted kernel whose / is a real filesystem. */
export const PLAIN_NODE: CriNodeFacts = { noPivotRoot: false, disableCgroup: false, restrictOomScoreAdj: false };

const CRI = `plugins."io.containerd.grpc.v1.cri"`;

/** Credentials for one registry host, in the CRI plugin's registry.configs.<host>.auth keys. */
export interface CriRegistryAuth {
  username?: string;
  password?: string;
  /** base64 of "username:password". */
  auth?: string;
  identitytoken?: string;
}

/** A TOML basic string (JSON's escapes are TOML's for these characters). */
const str = (v: string) => JSON.stringify(v);

/** The CRI plugin table, complete (see the header: an import replaces it whole). */
export function criPluginToml(facts: CriNodeFacts, auths: Record<string, CriRegistryAuth> = {}): string {
  const auth = Object.entries(auths).flatMap(([host, a]) => [
    `  [${CRI}.registry.configs.${str(host)}.auth]`,
    ...Object.entries(a)
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `    ${k} = ${str(v as string)}`),
  ]);
  return [
    `[${CRI}]`,
    `  sandbox_image = "${CRI_SANDBOX_IMAGE}"`,
    `  disable_cgroup = ${facts.disableCgroup}`,
    `  restrict_oom_score_adj = ${facts.restrictOomScoreAdj}`,
    `  [${CRI}.containerd]`,
    `    snapshotter = "overlayfs"`,
    `    default_runtime_name = "runc"`,
    `    [${CRI}.containerd.runtimes.runc]`,
    `      runtime_type = "io.containerd.runc.v2"`,
    `      [${CRI}.containerd.runtimes.runc.options]`,
    // cgroupfs paths (the kubelet's default cgroupDriver), no systemd on the node.
    `        SystemdCgroup = false`,
    `        NoPivotRoot = ${facts.noPivotRoot}`,
    `  [${CRI}.cni]`,
    `    bin_dir = "${CNI_BIN_DIR}"`,
    `    conf_dir = "${CNI_CONF_DIR}"`,
    `  [${CRI}.registry]`,
    `    config_path = "${CRI_REGISTRY_HOSTS_DIR}"`,
    ...auth,
    "",
  ].join("\n");
}

/** The drop-in init writes: schema version 2 and the CRI table. */
export function criDropin(facts: CriNodeFacts, auths: Record<string, CriRegistryAuth> = {}): string {
  return `version = 2\n\n${criPluginToml(facts, auths)}`;
}

/** TLS files of one host, as paths written beside its hosts.toml. */
export interface HostTls {
  ca?: string;
  client?: [cert: string, key: string];
  skipVerify?: boolean;
}

/** One registry's hosts.toml (containerd's hosts format). */
export interface RegistryHosts {
  /** The upstream (containerd's "server"); absent: https://<registry> itself. */
  server?: string;
  serverTls?: HostTls;
  /** Mirrors, tried in order before the server. */
  mirrors: { url: string; tls?: HostTls; overridePath?: boolean }[];
}

function tlsLines(t: HostTls | undefined, indent: string): string[] {
  if (!t) return [];
  return [
    ...(t.ca ? [`${indent}ca = ${str(t.ca)}`] : []),
    ...(t.client ? [`${indent}client = [[${str(t.client[0])}, ${str(t.client[1])}]]`] : []),
    ...(t.skipVerify ? [`${indent}skip_verify = true`] : []),
  ];
}

export function hostsToml(h: RegistryHosts): string {
  const lines = [...(h.server ? [`server = ${str(h.server)}`] : []), ...tlsLines(h.serverTls, "")];
  for (const m of h.mirrors) {
    if (lines.length) lines.push("");
    lines.push(`[host.${str(m.url)}]`, `  capabilities = ["pull", "resolve"]`, ...tlsLines(m.tls, "  "));
    if (m.overridePath) lines.push("  override_path = true");
  }
  return `${lines.join("\n")}\n`;
}

/** What the facts change, one reason each, for the node's log (empty for a plain node). */
export function criAdjustments(facts: CriNodeFacts): string[] {
  const out: string[] = [];
  if (facts.noPivotRoot) out.push("NoPivotRoot: / is the initramfs, where pivot_root(2) is refused");
  if (facts.disableCgroup) out.push("disable_cgroup: the cgroup hierarchy has no cpu controller (pod sandboxes always get cpu shares)");
  if (facts.restrictOomScoreAdj) out.push("restrict_oom_score_adj: init lacks CAP_SYS_RESOURCE (pod sandboxes ask for oom score -998)");
  return out;
}
