// The few modules init loads itself, before it could spawn modprobe quickly
// (the power button's): their files and dependencies from depmod's
// modules.dep, loaded with finit_module(2). Anything unusual (a compressed
// module, a missing entry) is left to modprobe: the caller falls back.
import { readFileSync } from "node:fs";
import { uname } from "../../sys/process.ts";
import { join } from "node:path";
import { finitModule } from "../../sys/module.ts";

/** modules.dep: module name (dashes as underscores) → its path and its dependencies' paths, in load order. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

export function moduleName(path: string): string {
  return path
    .replace(/^.*\//, "")
    .replace(/\.ko(\..*)?$/, "")
    .replace(/-/g, "_");
}

/**
 * Loads `names` (and what they depend on, dependencies first) with
 * finit_module. Returns the modules newly loaded; throws when one cannot be
 * loaded this way (the caller then runs modprobe).
 */
export function loadModulesDirectly(names: readonly string[], root = join("/lib/modules", uname().release)): string[] {
  const dep = parseModulesDep(readFileSync(join(root, "modules.dep"), "utf8"));
  const loaded: string[] = [];
  for (const name of names) {
    const entry = dep.get(name);
    if (!entry) throw new Error(`${name}: not in ${root}/modules.dep`);
    // modules.dep lists every dependency, indirect ones too, deepest last: load them in reverse.
    for (const path of [...entry.deps].reverse().concat(entry.path)) {
      if (!path.endsWith(".ko")) throw new Error(`${path}: compressed module (modprobe decompresses it)`);
      if (finitModule(join(root, path))) loaded.push(moduleName(path));
    }
  }
  return loaded;
}
