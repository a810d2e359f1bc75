// Lays out dist/rootfs: the minos binary at /sbin/init plus its hard links
// (rootfs-links), the glibc pieces it needs, the PID-1 boot shim and the
// empty directories init mounts onto.
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { installLibs, lddPaths } from "./libs.ts";
import { stackShim } from "./shim.ts";

/** Directories init mounts filesystems onto, plus the state tree Talos keeps under /system. */
const MOUNTPOINTS = ["dev", "sys", "run", "tmp", "var", "etc", "system/state", "system/run", "bin", "sbin", "usr/lib", "usr/lib64"];

export function readLinks(file = "rootfs-links"): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

export function layoutRootfs(root: string, binary: string, links: string[]): { libs: string[] } {
  rmSync(root, { recursive: true, force: true });
  for (const d of MOUNTPOINTS) mkdirSync(join(root, d), { recursive: true });
  // merged /usr, as Debian 12 and Talos: /lib and /lib64 are symlinks.
  symlinkSync("usr/lib", join(root, "lib"));
  symlinkSync("usr/lib64", join(root, "lib64"));
  const [first, ...others] = links;
  if (first !== "/sbin/init") throw new Error("rootfs-links must start with /sbin/init");
  const init = join(root, first);
  copyFileSync(binary, init);
  chmodSync(init, 0o755);
  for (const l of others) {
    mkdirSync(dirname(join(root, l)), { recursive: true });
    linkSync(init, join(root, l));
  }
  // The kernel's default rdinit: an initramfs boot with a stock cmdline runs /init. A symlink, not a
  // hard link, so the binary keeps its five names; argv0 is still "/init", which dispatches to init.
  symlinkSync("sbin/init", join(root, "init"));
  const libs = installLibs(root, lddPaths(binary));
  // The boot shim: a regular file where procfs will later be mounted.
  mkdirSync(join(root, "proc/self"), { recursive: true });
  writeFileSync(join(root, "proc/self/maps"), stackShim());
  return { libs };
}

/** Replaces `dest` by `fresh` with renames only; the old tree is removed after. */
export function swapInto(fresh: string, dest: string): void {
  const old = `${dest}.old.${process.pid}`;
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(fresh, dest);
  rmSync(old, { recursive: true, force: true });
}
