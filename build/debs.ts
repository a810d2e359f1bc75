// Debian packages as build inputs: fetched with `apt-get download` into a
// git-ignored cache and unpacked with `dpkg-deb -x`, never installed on the
// host. A warm cache needs neither the network nor apt.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const DEB_CACHE = ".cache/debs";
export const EXTRACT_CACHE = ".cache/extract";
/** Written inside each extracted tree: the .deb it came from, so a new version re-extracts. */
const STAMP = ".minos-source-deb";

export interface Deb {
  name: string;
  version: string;
  /** The .deb file in the cache. */
  file: string;
  /** Absolute path of its unpacked tree. */
  tree: string;
}

function run(argv: string[], cwd?: string): { ok: boolean; out: string } {
  const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: (r.stdout.toString() + r.stderr.toString()).trim() };
}

/** The cached .deb of `name` (package names never contain "_"); the newest if several. */
function cachedDeb(name: string): string | undefined {
  const hits = readdirSync(DEB_CACHE)
    .filter((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"))
    .map((f) => join(DEB_CACHE, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return hits[0];
}

/**
 * Downloads whichever of `names` is not cached yet. A fresh machine may have no
 * apt lists, so a failed download is retried once after `apt-get update`.
 */
function download(names: string[]): void {
  const missing = names.filter((n) => !cachedDeb(n));
  if (missing.length === 0) return;
  // apt's _apt sandbox user cannot write into a root-owned work tree; as root, skip it.
  const get = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", ...missing];
  let r = run(get, DEB_CACHE);
  if (!r.ok) {
    const upd = run(["apt-get", "-q", "update"]);
    if (upd.ok) r = run(get, DEB_CACHE);
    if (!r.ok) {
      const why =
        r.out
          .split("\n")
          .filter((l) => /^(E|W|Err):/.test(l))
          .join("\n  ") || r.out;
      throw new Error(
        `build: cannot fetch Debian package(s) ${missing.join(", ")} with apt-get download (after apt-get update${upd.ok ? "" : ", which failed too"}):\n  ${why}`,
      );
    }
  }
  for (const n of missing) if (!cachedDeb(n)) throw new Error(`build: apt-get download ${n} succeeded but left no ${n}_*.deb in ${DEB_CACHE}`);
}

/** Unpacks `file` into EXTRACT_CACHE/<name> unless that tree already came from the same .deb. */
function extract(name: string, file: string): string {
  const tree = resolve(EXTRACT_CACHE, name);
  const source = file.split("/").pop() ?? file;
  const stamp = join(tree, STAMP);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === source) return tree;
  // Unpack beside and rename, so an interrupted build never leaves a half tree stamped.
  const tmp = resolve(EXTRACT_CACHE, `.${name}.${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const r = run(["dpkg-deb", "-x", file, tmp]);
  if (!r.ok) throw new Error(`build: dpkg-deb -x ${file} failed: ${r.out}`);
  writeFileSync(join(tmp, STAMP), source);
  rmSync(tree, { recursive: true, force: true });
  try {
    renameSync(tmp, tree);
  } catch (e) {
    // A concurrent build may have put the same tree there first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!(existsSync(stamp) && readFileSync(stamp, "utf8") === source)) throw e;
  }
  return tree;
}

/** The version from apt's file name `<name>_<version>_<arch>.deb` (an epoch's ":" is written "%3a"). */
function version(file: string): string {
  const parts = (file.split("/").pop() ?? "").split("_");
  return decodeURIComponent(parts[1] ?? "?");
}

/** Fetches (if needed) and unpacks (if needed) each named package. */
export function fetchDebs(names: string[]): Map<string, Deb> {
  mkdirSync(DEB_CACHE, { recursive: true });
  mkdirSync(EXTRACT_CACHE, { recursive: true });
  download(names);
  const debs = new Map<string, Deb>();
  for (const name of names) {
    const file = cachedDeb(name);
    if (!file) throw new Error(`build: no cached .deb for ${name}`);
    debs.set(name, { name, version: version(file), file, tree: extract(name, file) });
  }
  return debs;
}
