// Shared libraries an ELF executable needs, resolved with ldd and copied into
// the rootfs at the paths ldd printed (dereferenced: the rootfs holds files).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

/** Absolute library paths (including the ELF interpreter) that `ldd file` lists. */
export function lddPaths(file: string, env: Record<string, string> = {}): string[] {
  const r = Bun.spawnSync(["ldd", file], { env: { ...process.env, ...env } });
  const text = r.stdout.toString();
  if (r.exitCode !== 0) {
    if (/not a dynamic executable/.test(text + r.stderr.toString())) return [];
    throw new Error(`ldd ${file} failed: ${r.stderr.toString().trim()}`);
  }
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const missing = /^\s*(\S+) => not found/.exec(line);
    if (missing) throw new Error(`ldd ${file}: ${missing[1]} not found`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) paths.push(m[1]);
  }
  return paths;
}

/** Copies each library into `root` at the same absolute path; returns the ones added. */
export function installLibs(root: string, libs: Iterable<string>): string[] {
  const added: string[] = [];
  for (const lib of libs) {
    const dest = join(root, lib);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(lib, dest);
    added.push(lib);
  }
  return added;
}
