// The `yaml` library, loaded on first use. PID 1 only needs it when a config
// is parsed, patched or rendered on its own thread; a node booting with the
// default config, or with its stored config validated by the config worker,
// never does. Loaded eagerly it cost PID 1 ~8 MiB of RSS (a compiled Bun
// program: 31.9 MiB with one small parse and render, 23.9 without, the same
// program where only this accessor is bundled), most of it pages of Bun's own
// code that the library's first run touches (regex compilation, the parser).
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
