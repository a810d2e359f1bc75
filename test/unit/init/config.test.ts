// The machine config: strict validation with path-named errors, the source
// order (cmdline, stored, default), and the rule that an invalid config is
// never applied and never replaces the stored one — in-process and in a boot.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";
import { DEFAULT_HOSTNAME, parseConfig } from "../../../src/init/config/machine.ts";
import { loadConfig, storeConfig } from "../../../src/init/config/store.ts";
import { builtinServices, extraServices } from "../../../src/init/supervisor/builtin.ts";
import { parseCmdline } from "../../../src/init/mechanisms/cmdline.ts";
import { INVALID, VALID } from "../../helpers/configs.ts";

function errorOf(text: string): string {
  try {
    parseConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error("config was accepted");
}

describe("machine config", () => {
  test("a Talos-style v1alpha1 subset parses, with defaults filled in", () => {
    const c = parseConfig(VALID);
    expect(c.machine.network.hostname).toBe("stored-node");
    expect(c.machine.kernel.modules).toEqual([{ name: "br_netfilter", parameters: [] }]);
    expect(c.machine.files[0]).toEqual({ path: "/var/etc/motd", content: "hello", permissions: 0o644, op: "create" });
    expect(c.machine.kubelet.image).toMatch(/kubelet/);
    expect(c.minos.services).toEqual([]);
    expect(parseConfig("version: v1alpha1\n").machine.network.hostname).toBe(DEFAULT_HOSTNAME);
  });

  test("wrong types, unknown keys and bad values are errors naming their YAML path", () => {
    expect(errorOf(INVALID)).toContain("machine.sysctls.foo: expected string, got number");
    expect(errorOf("version: v1alpha1\nmachine:\n  sysctls:\n    net.ipv4.ip_forward: 1\n")).toContain(
      'machine.sysctls["net.ipv4.ip_forward"]: expected string, got number',
    );
    expect(errorOf("version: v1alpha1\nmachine:\n  netwrok: {}\n")).toContain("machine.netwrok: unknown key");
    expect(errorOf("version: v1alpha2\n")).toContain('version: expected one of v1alpha1, got "v1alpha2"');
    expect(errorOf("machine: {}\n")).toContain("version: required");
    expect(errorOf("version: v1alpha1\nmachine:\n  kernel:\n    modules:\n      - {}\n")).toContain("machine.kernel.modules[0].name: required");
    expect(errorOf("version: v1alpha1\nmachine:\n  network:\n    hostname: Not_Valid\n")).toContain("machine.network.hostname:");
    expect(errorOf("version: v1alpha1\nminos:\n  services:\n    - id: a\n      command: [/x]\n      dependsOn: [nope]\n")).toContain(
      'minos.services[0].dependsOn[0]: unknown service "nope"',
    );
    expect(errorOf("version: v1alpha1\nmachine: [\n")).toContain("invalid YAML");
  });

  test("an extra service named after a built-in cgroup (runtime: containerd's) gets a cgroup of its own", () => {
    const cfg = parseConfig(
      "version: v1alpha1\nminos:\n  services:\n    - id: runtime\n      command: [/bin/x]\n    - id: udevd-helper\n      command: [/bin/x]\n",
    );
    const builtin = builtinServices(cfg, true).map((s) => s.cgroup);
    expect(builtin).toContain("system/runtime");
    const extra = extraServices(cfg).map((s) => s.cgroup);
    expect(extra).toEqual(["system/extra/runtime", "system/extra/udevd-helper"]);
    // No extra cgroup is, contains or sits inside a built-in one: its cgroup.kill reaches only itself.
    for (const e of extra) for (const b of builtin) expect(e === b || e.startsWith(`${b}/`) || b.startsWith(`${e}/`)).toBe(false);
  });

  test("an invalid config never replaces the stored one; a valid one is stored atomically", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-config-"));
    try {
      const stored = join(dir, "config.yaml");
      writeFileSync(stored, VALID);
      const before = statSync(stored);
      expect(() => storeConfig(INVALID, stored)).toThrow(/machine.sysctls.foo: expected string, got number/);
      expect(readFileSync(stored, "utf8")).toBe(VALID);
      expect(statSync(stored).ino).toBe(before.ino);
      const next = VALID.replace("stored-node", "renamed");
      storeConfig(next, stored);
      expect(readFileSync(stored, "utf8")).toBe(next);
      expect(statSync(stored).ino).not.toBe(before.ino); // renamed over, not rewritten in place
      expect(readdirSync(dir)).toEqual(["config.yaml"]); // no temp file left
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("sources in order: cmdline, then stored, then the default; invalid ones are passed over with the reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-config-"));
    try {
      const stored = join(dir, "config.yaml");
      const good = join(dir, "good.yaml");
      const bad = join(dir, "bad.yaml");
      writeFileSync(good, VALID.replace("stored-node", "cmdline-node"));
      writeFileSync(bad, INVALID);
      expect(loadConfig(undefined, stored).source).toBe("default");
      writeFileSync(stored, VALID);
      expect(loadConfig(good, stored).config.machine.network.hostname).toBe("cmdline-node");
      const fallback = loadConfig(bad, stored);
      expect(fallback.source).toBe("stored");
      expect(fallback.rejected[0]).toContain("machine.sysctls.foo: expected string, got number");
      writeFileSync(stored, INVALID);
      expect(loadConfig(undefined, stored).source).toBe("default");
      expect(readFileSync(stored, "utf8")).toBe(INVALID); // even an invalid stored file is left for the operator
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the kernel cmdline parser", () => {
    const c = parseCmdline('console=ttyS0 minos.config=/boot/c.yaml panic=0 quiet x="a b"');
    expect(c.params.get("minos.config")).toBe("/boot/c.yaml");
    expect(c.params.get("panic")).toBe("0");
    expect(c.params.get("quiet")).toBe("");
  });
});
