// A newc ("070701") cpio writer: the format the kernel unpacks as an initramfs.
// Every entry is owned by root (uid/gid 0 in the header, whoever builds it);
// hard links share one inode number and carry their data once, on the last
// name (as GNU cpio writes them; the kernel's unpacker links the later names
// to the first); symlinks store their target as data; device nodes exist only
// as headers, so /dev/console needs no mknod on the build machine.
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

export type Entry =
  | { kind: "dir"; mode: number; mtime: number }
  | { kind: "file"; mode: number; mtime: number; src?: string; data?: Uint8Array | string; link?: string }
  | { kind: "symlink"; target: string; mtime: number }
  | { kind: "char"; mode: number; major: number; minor: number };

/** An image as a map of path (relative, no leading "/") to entry; parents are implied. */
export class Tree {
  readonly entries = new Map<string, Entry>();

  set(path: string, e: Entry): void {
    const p = path.replace(/^\/+/, "").replace(/\/+$/, "");
    if (!p) return;
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      const cur = this.entries.get(d);
      if (!cur) this.entries.set(d, { kind: "dir", mode: 0o755, mtime: 0 });
      else if (cur.kind !== "dir") throw new Error(`cpio: ${d} is not a directory (needed for ${p})`);
    }
    this.entries.set(p, e);
  }

  /**
   * Adds the tree under `dir` at `prefix`, as lstat sees it. Files with several
   * links inside `dir` keep one inode (keyed by their host dev:ino).
   */
  addDir(dir: string, prefix = ""): void {
    const walk = (abs: string, rel: string): void => {
      for (const name of readdirSync(abs).sort()) {
        const a = join(abs, name);
        const r = rel ? `${rel}/${name}` : name;
        const st = lstatSync(a);
        const mtime = Math.floor(st.mtimeMs / 1000);
        if (st.isDirectory()) {
          this.set(r, { kind: "dir", mode: st.mode & 0o7777, mtime });
          walk(a, r);
        } else if (st.isSymbolicLink()) {
          this.set(r, { kind: "symlink", target: readlinkSync(a), mtime });
        } else if (st.isFile()) {
          this.set(r, { kind: "file", mode: st.mode & 0o7777, mtime, src: a, ...(st.nlink > 1 ? { link: `${st.dev}:${st.ino}` } : {}) });
        } else {
          throw new Error(`cpio: ${a}: unsupported file type (mode ${st.mode.toString(8)})`);
        }
      }
    };
    const base = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
    if (base) this.set(base, { kind: "dir", mode: 0o755, mtime: 0 });
    walk(dir, base);
  }
}

export interface CpioStats {
  entries: number;
  bytes: number;
  /** Regular files with data (a hard-link group counts once). */
  files: number;
}

function hex8(n: number): string {
  if (n < 0 || n > 0xffffffff) throw new Error(`cpio: field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Writes `tree` as a newc archive to the file `out`; parents always precede children. */
export function writeCpio(tree: Tree, out: string): CpioStats {
  const fd = openSync(out, "w");
  let bytes = 0;
  let files = 0;
  const zeros = new Uint8Array(4);
  const put = (b: Uint8Array | string) => {
    const buf = typeof b === "string" ? Buffer.from(b) : b;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    bytes += buf.length;
  };
  // Sorted paths: a prefix sorts before its extensions, so "a" precedes "a/b".
  const paths = [...tree.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Hard-link groups: inode number, member count, and the last member (which carries the data).
  const groups = new Map<string, { ino: number; nlink: number; last: string }>();
  let nextIno = 1;
  const inoOf = new Map<string, number>();
  for (const p of paths) {
    const e = tree.entries.get(p)!;
    if (e.kind === "file" && e.link) {
      const g = groups.get(e.link) ?? { ino: nextIno++, nlink: 0, last: p };
      g.nlink++;
      g.last = p;
      groups.set(e.link, g);
    } else {
      inoOf.set(p, nextIno++);
    }
  }
  const header = (f: { ino: number; mode: number; nlink: number; mtime: number; size: number; rmaj?: number; rmin?: number; name: string }) => {
    const nameBytes = Buffer.from(f.name + "\0");
    const h = "070701" + [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, f.rmaj ?? 0, f.rmin ?? 0, nameBytes.length, 0].map(hex8).join("");
    put(h);
    put(nameBytes);
    put(zeros.subarray(0, pad4(110 + nameBytes.length)));
  };
  const body = (data: Uint8Array) => {
    put(data);
    put(zeros.subarray(0, pad4(data.length)));
  };
  try {
    for (const p of paths) {
      const e = tree.entries.get(p)!;
      switch (e.kind) {
        case "dir":
          header({ ino: inoOf.get(p)!, mode: S_IFDIR | e.mode, nlink: 2, mtime: e.mtime, size: 0, name: p });
          break;
        case "symlink": {
          const data = Buffer.from(e.target);
          header({ ino: inoOf.get(p)!, mode: S_IFLNK | 0o777, nlink: 1, mtime: e.mtime, size: data.length, name: p });
          body(data);
          break;
        }
        case "char":
          header({ ino: inoOf.get(p)!, mode: S_IFCHR | e.mode, nlink: 1, mtime: 0, size: 0, rmaj: e.major, rmin: e.minor, name: p });
          break;
        case "file": {
          const g = e.link ? groups.get(e.link)! : undefined;
          const carries = !g || g.last === p;
          const data = !carries ? new Uint8Array(0) : e.data !== undefined ? (typeof e.data === "string" ? Buffer.from(e.data) : e.data) : readFileSync(e.src!);
          header({ ino: g ? g.ino : inoOf.get(p)!, mode: S_IFREG | e.mode, nlink: g ? g.nlink : 1, mtime: e.mtime, size: data.length, name: p });
          body(data);
          if (carries) files++;
          break;
        }
      }
    }
    header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, name: "TRAILER!!!" });
    // Pad the archive to a 512-byte block, as cpio(1) does.
    const tail = (512 - (bytes % 512)) % 512;
    if (tail) put(new Uint8Array(tail));
  } finally {
    closeSync(fd);
  }
  return { entries: paths.length, bytes, files };
}
