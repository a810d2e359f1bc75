// Compiles src/main.ts into the single minos executable with Bun.build.
import { statSync } from "node:fs";

export interface CompileOptions {
  outfile: string;
  bytecode: boolean;
  minify: boolean;
  /** One chunk per applet (default on); off only to measure the difference. */
  splitting?: boolean;
  /** Runtime flags baked into the executable (e.g. ["--smol"]); see README "Benchmarks" for what was measured. */
  execArgv?: string[];
}

export async function compile(opts: CompileOptions): Promise<{ bytes: number; ms: number }> {
  const t0 = performance.now();
  const result = await Bun.build({
    // The config worker (src/config/offthread.ts) is a second entrypoint: Bun embeds each entrypoint
    // by its path below the entrypoints' common root (src/), so it is /$bunfs/root/config/worker.js inside.
    entrypoints: ["src/main.ts", "src/config/worker.ts"],
    target: "bun",
    format: "esm",
    minify: opts.minify,
    bytecode: opts.bytecode,
    // Each applet's import() in src/main.ts becomes its own chunk inside the
    // executable, so `poweroff` neither parses nor loads init's gRPC server or
    // the dashboard. Without it the whole ~850 KB bundle is loaded at every
    // start: `poweroff --help` took ~21 ms instead of ~15 ms (bench row 1).
    splitting: opts.splitting ?? true,
    sourcemap: "none",
    // The Version call reports what was built: the commit and the build time.
    define: {
      "process.env.MINOS_GIT_SHA": JSON.stringify(gitSha()),
      "process.env.MINOS_BUILT": JSON.stringify(new Date().toISOString()),
    },
    compile: {
      outfile: opts.outfile,
      // A node's init must not pick up stray config files from the filesystem.
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(opts.execArgv?.length ? { execArgv: opts.execArgv } : {}),
    },
  });
  if (!result.success) {
    throw new Error(`compile failed:\n${result.logs.map(String).join("\n")}`);
  }
  return { bytes: statSync(opts.outfile).size, ms: performance.now() - t0 };
}

/** The short commit of the checkout being built ("unknown" outside git). */
function gitSha(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stderr: "ignore" });
  const sha = r.stdout.toString().trim();
  if (r.exitCode !== 0 || sha === "") return "unknown";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.toString().trim() !== "";
  return dirty ? `${sha}-dirty` : sha;
}
