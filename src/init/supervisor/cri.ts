// The CRI plugin's settings that depend on the booted node (see
// src/containerd/cri-config.ts): written as containerd's import before
// containerd starts, each adjustment with its reason in the log — never
// silently. A plain node (a kernel boot with a real root, every controller,
// CAP_SYS_RESOURCE) gets exactly the rootfs's defaults.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  CRI_CONFIG_DROPIN,
  CRI_REGISTRY_HOSTS_DIR,
  criAdjustments,
  criDropin,
  hostsToml,
  type CriNodeFacts,
  type CriRegistryAuth,
  type HostTls,
  type RegistryHosts,
} from "../../containerd/cri-config.ts";
import { pemText, type RegistriesConfig, type RegistryHostConfig } from "../../registry/config.ts";

export interface CriProbe {
  /** The node's / is the kernel's initramfs (container-runner.ts rootIsInitramfs). */
  rootIsInitramfs: boolean;
  /** The controllers of the node's cgroup root (its cgroup.controllers). */
  controllers: string[];
  /** init holds CAP_SYS_RESOURCE (it may hand out negative oom scores). */
  canLowerOomScore: boolean;
}

export function criNodeFacts(p: CriProbe): CriNodeFacts {
  return { noPivotRoot: p.rootIsInitramfs, disableCgroup: !p.controllers.includes("cpu"), restrictOomScoreAdj: !p.canLowerOomScore };
}

/** The controllers listed in a cgroup.controllers file ([] when it cannot be read). */
export function controllersAt(file: string): string[] {
  try {
    return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** The CRI's registry settings from machine.registries: hosts.toml (+ TLS files) per registry, and per-host auth. */
export interface CriRegistrySettings {
  /** Path (under the hosts directory) -> content. */
  files: Record<string, string>;
  auths: Record<string, CriRegistryAuth>;
}

/** Talos allows a bare "host:port" endpoint; it means HTTPS (as src/registry/config.ts reads it). */
const endpointUrl = (raw: string) => new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);

/**
 * machine.registries as the CRI plugin's hosts directory: mirrors in order
 * (skipFallback: the last mirror becomes the upstream, so nothing falls back
 * to the registry), each endpoint's and registry's TLS (CA and client
 * certificate as files beside the hosts.toml, insecureSkipVerify), and the
 * auth of each host in the CRI table. "*" is containerd's "_default".
 */
export function criRegistrySettings(cfg: RegistriesConfig, dir = CRI_REGISTRY_HOSTS_DIR): CriRegistrySettings {
  const files: Record<string, string> = {};
  const tlsFor = (hostDir: string, name: string, c: RegistryHostConfig | undefined): HostTls | undefined => {
    const t = c?.tls;
    if (!t) return undefined;
    const out: HostTls = {};
    const safe = name.replaceAll(/[^A-Za-z0-9.-]/g, "_");
    if (t.ca) {
      files[join(hostDir, `${safe}-ca.crt`)] = pemText(t.ca);
      out.ca = join(dir, hostDir, `${safe}-ca.crt`);
    }
    if (t.clientIdentity) {
      files[join(hostDir, `${safe}-client.crt`)] = pemText(t.clientIdentity.crt);
      files[join(hostDir, `${safe}-client.key`)] = pemText(t.clientIdentity.key);
      out.client = [join(dir, hostDir, `${safe}-client.crt`), join(dir, hostDir, `${safe}-client.key`)];
    }
    if (t.insecureSkipVerify) out.skipVerify = true;
    return out;
  };
  const registries = new Set([...Object.keys(cfg.mirrors ?? {}), ...Object.keys(cfg.config ?? {}).filter((h) => cfg.config?.[h]?.tls)]);
  for (const name of registries) {
    const hostDir = name === "*" ? "_default" : name;
    const mirror = cfg.mirrors?.[name];
    const mirrors = (mirror?.endpoints ?? []).map((raw) => {
      const url = endpointUrl(raw);
      return { url: url.href.replace(/\/$/, ""), tls: tlsFor(hostDir, url.host, cfg.config?.[url.host]), overridePath: mirror?.overridePath === true };
    });
    const h: RegistryHosts = { mirrors, serverTls: name === "*" ? undefined : tlsFor(hostDir, name, cfg.config?.[name]) };
    if (mirror?.skipFallback && mirrors.length) {
      const last = mirrors.pop()!;
      h.server = last.url;
      h.serverTls = last.tls;
    }
    files[join(hostDir, "hosts.toml")] = hostsToml(h);
  }
  const auths: Record<string, CriRegistryAuth> = {};
  for (const [host, c] of Object.entries(cfg.config ?? {})) {
    const a = c.auth;
    if (a && (a.username || a.password || a.auth || a.identityToken))
      auths[host] = { username: a.username, password: a.password, auth: a.auth, identitytoken: a.identityToken };
  }
  return { files, auths };
}

/**
 * Writes the drop-in (complete CRI table) and the registry hosts directory
 * (replaced whole: no stale host survives a config change at the next boot);
 * returns the adjustments the drop-in makes, one reason each.
 */
export function writeCriConfig(
  facts: CriNodeFacts,
  registries: CriRegistrySettings = { files: {}, auths: {} },
  path = CRI_CONFIG_DROPIN,
  hostsDir = CRI_REGISTRY_HOSTS_DIR,
): string[] {
  rmSync(hostsDir, { recursive: true, force: true });
  for (const [rel, text] of Object.entries(registries.files)) {
    mkdirSync(dirname(join(hostsDir, rel)), { recursive: true });
    writeFileSync(join(hostsDir, rel), text, { mode: rel.endsWith(".key") ? 0o600 : 0o644 });
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, criDropin(facts, registries.auths), { mode: Object.keys(registries.auths).length ? 0o600 : 0o644 });
  return criAdjustments(facts);
}
