// The CRI plugin's config: the rootfs's defaults, the drop-in init writes, and
// which node facts turn which setting on (each with its reason for the log).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTAINERD_CONFIG } from "../../../build/etc.ts";
import {
  CNI_BIN_DIR,
  CNI_CONF_DIR,
  CRI_CONFIG_DROPIN,
  CRI_CONFIG_IMPORTS,
  CRI_SANDBOX_IMAGE,
  PLAIN_NODE,
  criAdjustments,
  criDropin,
  criPluginToml,
  CRI_REGISTRY_HOSTS_DIR,
  hostsToml,
} from "../../../src/containerd/cri-config.ts";
import { criNodeFacts, criRegistrySettings, writeCriConfig } from "../../../src/init/supervisor/cri.ts";

describe("CRI config", () => {
  test("the rootfs's containerd config imports the drop-in's directory and carries a plain node's CRI table", () => {
    expect(CONTAINERD_CONFIG).toContain(`imports = ["${CRI_CONFIG_IMPORTS}"]`);
    expect(CRI_CONFIG_DROPIN.startsWith(CRI_CONFIG_IMPORTS.slice(0, CRI_CONFIG_IMPORTS.lastIndexOf("/") + 1))).toBe(true);
    expect(CRI_CONFIG_DROPIN).toEndWith(".toml");
    expect(CONTAINERD_CONFIG).toContain(criPluginToml(PLAIN_NODE));
    // The CRI plugin is on (only the opt plugin is off).
    expect(/^disabled_plugins = (.*)$/m.exec(CONTAINERD_CONFIG)?.[1]).toBe(`["io.containerd.internal.v1.opt"]`);
  });

  test("the table names the sandbox image, overlayfs, runc v2 with cgroupfs, and the CNI directories", () => {
    const t = criPluginToml(PLAIN_NODE);
    expect(t).toContain(`sandbox_image = "${CRI_SANDBOX_IMAGE}"`);
    expect(t).toContain(`snapshotter = "overlayfs"`);
    expect(t).toContain(`runtime_type = "io.containerd.runc.v2"`);
    expect(t).toContain("SystemdCgroup = false");
    expect(t).toContain(`bin_dir = "${CNI_BIN_DIR}"`);
    expect(t).toContain(`conf_dir = "${CNI_CONF_DIR}"`);
    expect(t).toContain("disable_cgroup = false");
    expect(t).toContain("restrict_oom_score_adj = false");
    expect(t).toContain("NoPivotRoot = false");
    expect(criAdjustments(PLAIN_NODE)).toEqual([]);
  });

  test("each missing piece of the node turns one setting on, with its reason", () => {
    const all = criNodeFacts({ rootIsInitramfs: true, controllers: ["memory", "pids"], canLowerOomScore: false });
    expect(all).toEqual({ noPivotRoot: true, disableCgroup: true, restrictOomScoreAdj: true });
    const t = criPluginToml(all);
    expect(t).toContain("NoPivotRoot = true");
    expect(t).toContain("disable_cgroup = true");
    expect(t).toContain("restrict_oom_score_adj = true");
    const why = criAdjustments(all);
    expect(why).toHaveLength(3);
    expect(why[0]).toMatch(/^NoPivotRoot: \/ is the initramfs/);
    expect(why[1]).toMatch(/^disable_cgroup: .*no cpu controller/);
    expect(why[2]).toMatch(/^restrict_oom_score_adj: .*CAP_SYS_RESOURCE/);
    expect(criNodeFacts({ rootIsInitramfs: false, controllers: ["cpu", "memory"], canLowerOomScore: true })).toEqual(PLAIN_NODE);
  });

  test("the drop-in is a complete version-2 file (an import replaces the whole plugin table)", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-cri-unit-"));
    try {
      const facts = { noPivotRoot: true, disableCgroup: false, restrictOomScoreAdj: false };
      const path = join(dir, "conf.d/cri.toml");
      expect(writeCriConfig(facts, undefined, path, join(dir, "hosts"))).toEqual(criAdjustments(facts));
      const text = readFileSync(path, "utf8");
      expect(text).toBe(criDropin(facts));
      expect(text.startsWith("version = 2\n")).toBe(true);
      expect(text).toContain(`sandbox_image = "${CRI_SANDBOX_IMAGE}"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("machine.registries becomes the CRI's hosts directory: mirrors in order, TLS files, skipFallback, auth in the table", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const r = criRegistrySettings({
      mirrors: {
        "docker.io": { endpoints: ["http://10.5.0.1:5000", "mirror.lan:5443"] },
        "ghcr.io": { endpoints: ["http://10.5.0.1:5001"], skipFallback: true },
        "*": { endpoints: ["http://10.5.0.1:5002"] },
      },
      config: {
        "mirror.lan:5443": { tls: { ca: Buffer.from(ca).toString("base64") } },
        "registry.lan:5443": { tls: { insecureSkipVerify: true }, auth: { username: "u", password: "p" } },
      },
    });
    expect(Object.keys(r.files).sort()).toEqual([
      "_default/hosts.toml",
      "docker.io/hosts.toml",
      "docker.io/mirror.lan_5443-ca.crt",
      "ghcr.io/hosts.toml",
      // A host with TLS settings gets its own file too: pulls that name it directly.
      "mirror.lan:5443/hosts.toml",
      "mirror.lan:5443/mirror.lan_5443-ca.crt",
      "registry.lan:5443/hosts.toml",
    ]);
    // The base64 form of Talos's v1alpha1 is written as PEM.
    expect(r.files["docker.io/mirror.lan_5443-ca.crt"]).toBe(ca);
    expect(r.files["docker.io/hosts.toml"]).toBe(
      [
        `[host."http://10.5.0.1:5000"]`,
        `  capabilities = ["pull", "resolve"]`,
        "",
        `[host."https://mirror.lan:5443"]`,
        `  capabilities = ["pull", "resolve"]`,
        `  ca = "${CRI_REGISTRY_HOSTS_DIR}/docker.io/mirror.lan_5443-ca.crt"`,
        "",
      ].join("\n"),
    );
    // skipFallback: the last mirror is the upstream, so the registry itself is never asked.
    expect(r.files["ghcr.io/hosts.toml"]).toBe(`server = "http://10.5.0.1:5001"\n`);
    expect(r.files["registry.lan:5443/hosts.toml"]).toBe("skip_verify = true\n");
    expect(r.auths).toEqual({ "registry.lan:5443": { username: "u", password: "p", auth: undefined, identitytoken: undefined } });
    const table = criPluginToml(PLAIN_NODE, r.auths);
    expect(table).toContain(`config_path = "${CRI_REGISTRY_HOSTS_DIR}"`);
    expect(table).toContain(`[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.lan:5443".auth]\n    username = "u"\n    password = "p"\n`);
    expect(hostsToml({ mirrors: [] })).toBe("\n");
  });
});
