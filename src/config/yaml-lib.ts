// The `yaml` library, loaded on first use. PID 1 only needs it when a config
// is parsed, patched or rendered on its own thread: a node booting with the
// default config never does (a stored config is parsed at boot). What that
// saves: PID 1 after a default boot 53.9 -> 52.2 MiB. In a bare compiled Bun
// program one small parse and render cost ~8 MiB (31.9 vs 23.9 MiB), mostly
// pages of Bun's own code that the library's first run touches (regex
// compilation, the parser); PID 1 touches much of that code anyway.
//
// Every module reaches the library through here: a static `import … from
// "yaml"` anywhere in PID 1's graph would load it at start again.
import type * as Yaml from "yaml";

let lib: typeof Yaml | undefined;

export function yamlLib(): typeof Yaml {
  // A synchronous require: the bundler keeps the library in the executable but evaluates it only here.
  lib ??= require("yaml") as typeof Yaml;
  return lib;
}

/** Whether anything in this process has needed the library yet (tests: a default boot must not). */
export function yamlLoaded(): boolean {
  return lib !== undefined;
}
