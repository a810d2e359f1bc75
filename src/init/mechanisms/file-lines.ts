// A log file's lines, optionally only the newest N, optionally followed as it
// grows (the CRI's container logs under /var/log/pods: Talos streams them for
// `talosctl logs -k`). Read in chunks through async I/O as the consumer pulls,
// so a large file is never in memory at once and PID 1's loop never blocks.
// A file that shrinks while followed (truncated, or replaced by log rotation)
// is read again from its start.
import type { FileHandle } from "node:fs/promises";
import { sleep } from "../../lib/timers.ts";

const CHUNK_BYTES = 64 * 1024;
const FOLLOW_POLL_MS = 250;

export interface FileLinesOptions {
  /** Only the newest N lines (negative: all; 0: none, then what is appended). */
  tailLines?: number;
  follow?: boolean;
  /** Ends a follow (and the reading). */
  signal?: AbortSignal;
  pollMs?: number;
}

/** Where reading starts for the newest `n` lines: scans backwards a chunk at a time. */
async function tailStart(fh: FileHandle, size: number, n: number): Promise<number> {
  if (n < 0) return 0;
  if (n === 0) return size;
  let pos = size;
  let newlines = 0;
  const buf = Buffer.alloc(CHUNK_BYTES);
  // A final newline ends the last line; it does not start another.
  let skipLast = true;
  while (pos > 0) {
    const len = Math.min(CHUNK_BYTES, pos);
    pos -= len;
    const { bytesRead } = await fh.read(buf, 0, len, pos);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      if (++newlines === n) return pos + i + 1;
    }
  }
  return 0;
}

export async function* fileLines(path: string, opts: FileLinesOptions = {}): AsyncGenerator<string> {
  // Imported on first use: PID 1 loads node:fs/promises only once a container log is read.
  const { open, stat } = await import("node:fs/promises");
  let fh = await open(path, "r");
  try {
    const first = await fh.stat();
    let ino = first.ino;
    let pos = await tailStart(fh, first.size, opts.tailLines ?? -1);
    let partial = "";
    // A multi-byte character may straddle two chunks.
    let decoder = new TextDecoder();
    const buf = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      if (opts.signal?.aborted) return;
      const { bytesRead } = await fh.read(buf, 0, CHUNK_BYTES, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        const text = partial + decoder.decode(buf.subarray(0, bytesRead), { stream: true });
        const lines = text.split("\n");
        partial = lines.pop()!;
        for (const l of lines) yield l;
        continue;
      }
      if (!opts.follow) {
        if (partial) yield partial;
        return;
      }
      if (!(await sleep(opts.pollMs ?? FOLLOW_POLL_MS, opts.signal))) return;
      // Rotated (the name holds another file) or truncated: start it over.
      const now = await stat(path).catch(() => undefined);
      if (now && (now.ino !== ino || now.size < pos)) {
        await fh.close();
        fh = await open(path, "r");
        ino = (await fh.stat()).ino;
        pos = 0;
        partial = "";
        decoder = new TextDecoder();
      }
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
