// What the benchmark measures against: peers from Debian packages (busybox-static,
// tini) and lower bounds compiled from bench/c at bench time (never committed).
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fetchDebs } from "../build/debs.ts";

const OUT = resolve(".cache/bench");

export interface Peers {
  busybox: string;
  tini: string;
}

export function peers(): Peers {
  const debs = fetchDebs(["busybox-static", "tini"]);
  return {
    busybox: join(debs.get("busybox-static")!.tree, "bin/busybox"),
    tini: join(debs.get("tini")!.tree, "usr/bin/tini-static"),
  };
}

/** Compiles bench/c/<name>.c statically (cached by mtime) and returns the binary path. */
export function cProgram(name: string): string {
  mkdirSync(OUT, { recursive: true });
  const src = resolve(`bench/c/${name}.c`);
  const bin = join(OUT, name);
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const r = Bun.spawnSync(["gcc", "-O2", "-static", "-o", bin, src]);
    if (r.exitCode !== 0) throw new Error(`bench: gcc ${src} failed:\n${r.stderr.toString()}`);
  }
  return bin;
}

/** A Bun "hello" executable compiled with the same options as minos (cached by mtime). */
export async function bunHello(): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const src = resolve("bench/hello.ts");
  const bin = join(OUT, "hello");
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    const r = await Bun.build({
      entrypoints: [src],
      target: "bun",
      format: "esm",
      minify: true,
      bytecode: true,
      compile: { outfile: bin, autoloadDotenv: false, autoloadBunfig: false },
    });
    if (!r.success) throw new Error(`bench: compiling bench/hello.ts failed: ${r.logs.map(String).join("\n")}`);
  }
  return bin;
}

/**
 * A bench-only program from bench/peers/<name>.ts compiled like minos (bytecode,
 * minified, one file), into dist/bench/ — rebuilt once per bench run, since it
 * loads minos's own modules (the schema, the client).
 */
const built = new Map<string, string>();
export async function benchProgram(name: string): Promise<string> {
  const done = built.get(name);
  if (done) return done;
  const out = resolve(`dist/bench/${name}`);
  mkdirSync(resolve("dist/bench"), { recursive: true });
  const r = await Bun.build({
    entrypoints: [resolve(`bench/peers/${name}.ts`)],
    target: "bun",
    format: "esm",
    minify: true,
    bytecode: true,
    compile: { outfile: out, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`bench: compiling bench/peers/${name}.ts failed: ${r.logs.map(String).join("\n")}`);
  built.set(name, out);
  return out;
}
