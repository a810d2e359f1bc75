// List and Read: the node's filesystem as the API shows it (Talos semantics:
// List emits the root itself as ".", then entries sorted by name; Read streams
// a file in chunks).
import { constants, lstatSync, readdirSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { OpenedFile } from "./auth.ts";
import type { machine } from "./gen/types.ts";
import type { Msg } from "./wire.ts";
import { InvalidArgumentError, NotFoundError } from "../lib/errors.ts";

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

/** Decides whether what was opened may be read; throws to refuse (the file is closed unread). */
export type ReadCheck = (opened: OpenedFile) => void;

/**
 * Streams a file's bytes; NotFoundError when missing, InvalidArgumentError for
 * a directory. The path is taken from "/" (never init's working directory).
 * `check` sees the open file itself (its /proc/self/fd name and fstat), so the
 * file checked is the file read even if a symlink on the path changes.
 * O_NONBLOCK: opening a FIFO must not park a thread-pool thread of PID 1 until
 * a writer shows up; for regular files and disks it changes nothing.
 */
export async function* read(path: string, check?: ReadCheck): AsyncGenerator<Uint8Array> {
  const abs = resolve("/", path);
  let fh: FileHandle;
  try {
    // Imported on first use: PID 1 loads node:fs/promises only when a file is read through the API.
    const { open } = await import("node:fs/promises");
    fh = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw notFound(path, e);
  }
  try {
    const stats = await fh.stat();
    if (check) {
      let realPath: string | undefined;
      try {
        realPath = realpathSync(`/proc/self/fd/${fh.fd}`);
      } catch {
        // no /proc: the check decides what an unverifiable path means
      }
      check({ realPath, stats });
    }
    if (stats.isDirectory()) throw new InvalidArgumentError(`${path}: is a directory`);
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, 0, CHUNK, null));
      } catch (e) {
        // A FIFO or character device with nothing more to give now: what there was is the answer.
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") return;
        throw e;
      }
      if (bytesRead === 0) return;
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}
