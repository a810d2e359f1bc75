// A bounded in-memory log: the newest lines of one source (a service's
// stdout/stderr, init's own log), with live followers. Bounded three ways, so
// its memory does not depend on what the source writes: at most `capacity`
// lines, at most `maxBytes` bytes (UTF-8) in all, and no line over
// LINE_MAX_BYTES (a longer one is cut and ends with CUT_MARK).

export type Unsubscribe = () => void;

/** The longest line a ring holds, in UTF-8 bytes, the cut mark included. */
export const LINE_MAX_BYTES = 8192;
/** Ends a line that was cut at LINE_MAX_BYTES (its rest follows as the next line, or was dropped). */
export const CUT_MARK = " […]";
export const CUT_MARK_BYTES = Buffer.byteLength(CUT_MARK);

/** A ring's default byte bound: 1 MiB, as Talos bounds a service's in-memory log. */
export const RING_MAX_BYTES = 1 << 20;

export class LogRing {
  /** Circular: the oldest line is at `head`, `count` lines in all. */
  private lines: string[] = [];
  private sizes: number[] = [];
  private head = 0;
  private count = 0;
  private totalBytes = 0;
  private followers = new Set<(line: string) => void>();

  constructor(
    readonly capacity = 5000,
    readonly maxBytes = RING_MAX_BYTES,
  ) {}

  push(line: string): void {
    let bytes = Buffer.byteLength(line);
    if (bytes > LINE_MAX_BYTES) {
      line = cutLine(line);
      bytes = Buffer.byteLength(line);
    }
    while (this.count > 0 && (this.count >= this.capacity || this.totalBytes + bytes > this.maxBytes)) this.dropOldest();
    const at = (this.head + this.count) % this.capacity;
    this.lines[at] = line;
    this.sizes[at] = bytes;
    this.count++;
    this.totalBytes += bytes;
    for (const f of this.followers) {
      try {
        f(line);
      } catch {
        // A broken follower (a client gone away) must not stop logging.
      }
    }
  }

  /** The newest `n` lines (all when n is undefined or negative), oldest first. */
  tail(n?: number): string[] {
    const take = n === undefined || n < 0 ? this.count : Math.min(n, this.count);
    const out: string[] = [];
    for (let i = this.count - take; i < this.count; i++) out.push(this.lines[(this.head + i) % this.capacity]!);
    return out;
  }

  follow(fn: (line: string) => void): Unsubscribe {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  get followerCount(): number {
    return this.followers.size;
  }

  /** Lines held now. */
  get length(): number {
    return this.count;
  }

  /** UTF-8 bytes held now (at most maxBytes). */
  get bytes(): number {
    return this.totalBytes;
  }

  private dropOldest(): void {
    this.totalBytes -= this.sizes[this.head]!;
    this.lines[this.head] = ""; // let the string go now, not when the slot is reused
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }
}

/** `line` cut to LINE_MAX_BYTES on a character boundary, CUT_MARK included. */
export function cutLine(line: string): string {
  const bytes = Buffer.from(line);
  return `${bytes.subarray(0, charBoundary(bytes, LINE_MAX_BYTES - CUT_MARK_BYTES)).toString()}${CUT_MARK}`;
}

/**
 * The largest index ≤ `at` that does not fall inside a UTF-8 sequence (a byte
 * 0b10xxxxxx continues one), looking back at most 3 bytes.
 */
export function charBoundary(bytes: Uint8Array, at: number, from = 0): number {
  if (at >= bytes.length) return bytes.length;
  let i = at;
  while (i > from && at - i < 3 && (bytes[i]! & 0xc0) === 0x80) i--;
  return (bytes[i]! & 0xc0) === 0x80 ? at : i;
}
