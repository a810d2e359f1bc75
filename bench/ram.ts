// The bench's RAM disk: a tmpfs with small pages (huge=never) holding a copy of
// the rootfs the sandbox nodes boot from and of every other binary whose RSS a
// row compares (the Bun hello, the API-client floor, the dashboard's minos).
//
// Why: a process's RSS counts the pages of its executable it has mapped, and
// on a disk filesystem that depends on how the file came into the page cache,
// not only on what the process touches. The kernel maps cached pages around
// each fault, a whole large folio at a time. Measured on this host's ext4, the
// same Bun hello (`--stay`, 2.1 MiB anonymous every time): 23.7 MiB when its
// own faults read the file, 29.1 MiB right after the file was written (cp),
// 31.3 MiB after `cat` had read it; PID 1 of a sandbox node 53.4 vs 58.7 MiB
// (read by its faults vs freshly written). On a tmpfs every page is cached at
// the small page size whatever wrote it: hello 23.5, PID 1 53.8 MiB, the same
// as the read-by-faults state. A node's initramfs is such a RAM filesystem, so
// that is the state every side of rows 2, 3 and 8 is measured in.
import { copyFileSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";

let dir: string | undefined;
const copies = new Map<string, string>();

function mounted(): string {
  if (dir) return dir;
  const d = mkdtempSync("/tmp/minos-bench-ram-");
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2g,huge=never,mode=0755", "minos-bench-ram", d], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmdirSync(d);
    throw new Error(`bench: mounting the RAM disk on ${d}: ${r.stderr.toString().trim()} (the bench runs as root)`);
  }
  dir = d;
  // A bench that dies still unmounts it (lazily: a node left behind keeps its pages until it ends).
  process.on("exit", () => closeRam());
  return d;
}

/** A copy of `path` on the RAM disk (made once per path and modification time). */
export function inRam(path: string): string {
  const key = `${path}@${statSync(path).mtimeMs}`;
  const done = copies.get(key);
  if (done) return done;
  const sub = join(mounted(), `f${copies.size}`);
  mkdirSync(sub);
  const out = join(sub, basename(path));
  copyFileSync(path, out);
  copies.set(key, out);
  return out;
}

/** A new copy of `path` on the RAM disk every call (the caller removes it with dropFromRam). */
export function freshInRam(path: string): string {
  const sub = mkdtempSync(join(mounted(), "fresh-"));
  const out = join(sub, basename(path));
  copyFileSync(path, out);
  return out;
}

export function dropFromRam(copy: string): void {
  rmSync(dirname(copy), { recursive: true, force: true });
}

/** A copy of the rootfs tree on the RAM disk (hard links kept), and the directory the sandboxes' private copies go in. */
export function rootfsInRam(rootfs: string): { rootfs: string; workDir: string } {
  const root = join(mounted(), "rootfs");
  const key = `${rootfs}@tree`;
  if (!copies.has(key)) {
    const r = Bun.spawnSync(["cp", "-a", rootfs, root], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bench: copying ${rootfs} to the RAM disk: ${r.stderr.toString().trim()}`);
    copies.set(key, root);
  }
  return { rootfs: root, workDir: mounted() };
}

export function closeRam(): void {
  if (!dir) return;
  const d = dir;
  dir = undefined;
  copies.clear();
  Bun.spawnSync(["umount", "-l", d]);
  try {
    rmdirSync(d);
  } catch {}
}
