// List and Read: the node's filesystem as the API shows it (Talos semantics:
// List emits the root itself as ".", then entries sorted by name; Read streams
// a file in chunks).
import { lstatSync, readdirSync, readlinkSync, statSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { InvalidArgumentError, NotFoundError } from "../../lib/errors.ts";

export interface ListOptions {
  root: string;
  recurse: boolean;
  /** Levels below root when recursing; 0 = unlimited. */
  depth: number;
  types: machine.ListRequest_Type[];
}

function kind(st: Stats): machine.ListRequest_Type | undefined {
  if (st.isSymbolicLink()) return "SYMLINK";
  if (st.isDirectory()) return "DIRECTORY";
  if (st.isFile()) return "REGULAR";
  return undefined; // devices, sockets, fifos: only shown when no type filter is given
}

function info(path: string, rel: string, st: Stats): Msg<machine.FileInfo> {
  let link = "";
  if (st.isSymbolicLink()) {
    try {
      link = readlinkSync(path);
    } catch {
      // raced with removal; the entry is still reported
    }
  }
  return {
    name: path,
    relative_name: rel,
    size: st.size,
    mode: st.mode,
    modified: Math.floor(st.mtimeMs / 1000),
    is_dir: st.isDirectory(),
    link,
    uid: st.uid,
    gid: st.gid,
    inode: st.ino,
    nlink: st.nlink,
  };
}

function notFound(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" ? new NotFoundError(`${path}: no such file or directory`) : (e as Error);
}

export function* list(opts: ListOptions): Generator<Msg<machine.FileInfo>> {
  const root = opts.root || "/";
  let st: Stats;
  try {
    st = lstatSync(root);
  } catch (e) {
    throw notFound(root, e);
  }
  const wanted = (s: Stats) => opts.types.length === 0 || opts.types.includes(kind(s) as machine.ListRequest_Type);
  if (wanted(st)) yield info(root, ".", st);
  const maxDepth = opts.recurse ? (opts.depth > 0 ? opts.depth : Infinity) : 1;
  function* walk(dir: string, rel: string, depth: number): Generator<Msg<machine.FileInfo>> {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      yield { name: dir, relative_name: rel || ".", error: (e as Error).message };
      return;
    }
    for (const n of names) {
      const path = join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      let s: Stats;
      try {
        s = lstatSync(path);
      } catch (e) {
        yield { name: path, relative_name: r, error: (e as Error).message };
        continue;
      }
      if (wanted(s)) yield info(path, r, s);
      if (s.isDirectory() && depth < maxDepth) yield* walk(path, r, depth + 1);
    }
  }
  if (st.isDirectory()) yield* walk(root, "", 1);
}

const CHUNK = 64 * 1024;

/** Streams a file's bytes; NotFoundError when missing, InvalidArgumentError for a directory. */
export async function* read(path: string): AsyncGenerator<Uint8Array> {
  try {
    if (statSync(path).isDirectory()) throw new InvalidArgumentError(`${path}: is a directory`);
  } catch (e) {
    throw e instanceof InvalidArgumentError ? e : notFound(path, e);
  }
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) return;
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}
