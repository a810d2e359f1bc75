// Row 7: sizes — the minos binary, the whole rootfs and the initramfs, next to
// the peers' binaries.
import { existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Peers } from "../tools.ts";

/** Bytes of a tree, each inode counted once (the five minos names are one file). */
export function treeBytes(root: string): number {
  const seen = new Set<number>();
  let total = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (!seen.has(st.ino)) {
        seen.add(st.ino);
        total += st.size;
      }
    }
  };
  walk(root);
  return total;
}

export interface Sizes {
  minos: number;
  rootfs: number;
  initramfs: number | null;
  busybox: number;
  tini: number;
}

export function sizes(p: Peers): Sizes {
  const initramfs = ["dist/initramfs.cpio.zst", "dist/initramfs.cpio.gz"].find(existsSync);
  return {
    minos: statSync("dist/minos").size,
    rootfs: treeBytes("dist/rootfs"),
    initramfs: initramfs ? statSync(initramfs).size : null,
    busybox: statSync(p.busybox).size,
    tini: statSync(p.tini).size,
  };
}
