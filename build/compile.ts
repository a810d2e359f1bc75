// Compiles src/main.ts into the single minos executable with Bun.build.
import { statSync } from "node:fs";

export interface CompileOptions {
  outfile: string;
  bytecode: boolean;
  minify: boolean;
}

export async function compile(opts: CompileOptions): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now();
  const result = await Bun.build({
    entrypoints: ["src/main.ts"],
    target: "bun",
    format: "esm",
    minify: opts.minify,
    bytecode: opts.bytecode,
    sourcemap: "none",
    compile: {
      outfile: opts.outfile,
      // A node's init must not pick up stray config files from the filesystem.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    throw new Error(`compile failed:\n${result.logs.map(String).join("\n")}`);
  }
  return { bytes: statSync(opts.outfile).size, ms: performance.now() - t0 };
}
