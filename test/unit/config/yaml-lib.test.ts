// PID 1 loads the yaml library only when it parses, patches or renders YAML
// itself (src/config/yaml-lib.ts): a default boot must not load it, and no
// module may bring it back with a static import.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("the yaml library is loaded lazily", () => {
  test("no module of src/ imports it as a value (only types, and yaml-lib.ts's require)", () => {
    const offenders = sources("src").filter((f) => {
      const text = readFileSync(f, "utf8");
      return /^import\s+(?!type\b)[^;]*from\s+"yaml"/m.test(text) || /import\(\s*"yaml"\s*\)/.test(text);
    });
    expect(offenders).toEqual([]);
  });

  test("the default config is made without it, and equals the default's YAML parsed", () => {
    const script = `
      const { loadConfig } = await import("./src/init/config/store.ts");
      const { parseConfig, DEFAULT_CONFIG_TEXT } = await import("./src/init/config/machine.ts");
      const { yamlLoaded } = await import("./src/config/yaml-lib.ts");
      const loaded = loadConfig(undefined, "/nonexistent/config.yaml");
      const before = yamlLoaded();
      const parsed = parseConfig(DEFAULT_CONFIG_TEXT);
      console.log(JSON.stringify({ source: loaded.source, text: loaded.text, before, after: yamlLoaded(), same: Bun.deepEquals(loaded.config, parsed, true) }));
    `;
    const r = Bun.spawnSync([process.execPath, "-e", script], { cwd: process.cwd(), stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(JSON.parse(r.stdout.toString())).toEqual({ source: "default", text: "version: v1alpha1\n", before: false, after: true, same: true });
  });
});
