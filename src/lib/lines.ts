// Bytes from a pipe as lines of bounded size. Works on bytes, not on decoded
// strings: a chunk is scanned for "\n" natively, each line is decoded on its
// own (a fresh string: a slice of a decoded chunk would keep the whole chunk
// alive), and an unterminated "line" never holds more than LINE_MAX_BYTES,
// whatever the writer sends. Pull-based (next()), so the reader decides how
// many lines to take before it yields to the event loop.
import { CUT_MARK, CUT_MARK_BYTES, charBoundary, LINE_MAX_BYTES } from "./ring.ts";

const NL = 10;
const EMPTY = new Uint8Array(0);

export class LineSplitter {
  private chunk: Uint8Array = EMPTY;
  private pos = 0;
  /** The start of a line that began in an earlier chunk (copied: never a view that pins a chunk). */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private decoder = new TextDecoder(); // invalid UTF-8 becomes U+FFFD, never an exception

  constructor(readonly maxLineBytes = LINE_MAX_BYTES) {}

  /** The next chunk; call it only once next() returned undefined (the previous chunk is used up). */
  push(chunk: Uint8Array): void {
    this.chunk = chunk;
    this.pos = 0;
  }

  /** The next whole line of the pushed bytes (without "\n"), or undefined when they are used up. */
  next(): string | undefined {
    const c = this.chunk;
    if (this.pos >= c.length) return undefined;
    const nl = c.indexOf(NL, this.pos);
    const end = nl < 0 ? c.length : nl;
    const room = this.maxLineBytes - this.partialBytes;
    if (end - this.pos > room) {
      // Too long: this piece ends with the cut mark, the rest starts a new line.
      const keep = this.maxLineBytes - CUT_MARK_BYTES;
      if (this.partialBytes >= keep) return this.cutHeld(keep);
      const cut = charBoundary(c, this.pos + keep - this.partialBytes, this.pos);
      const line = this.take(c.subarray(this.pos, cut)) + CUT_MARK;
      this.pos = cut;
      return line;
    }
    if (nl < 0) {
      this.partial.push(new Uint8Array(c.subarray(this.pos))); // a copy (Buffer.slice would be a view)
      this.partialBytes += c.length - this.pos;
      this.pos = c.length;
      return undefined;
    }
    const line = this.take(c.subarray(this.pos, nl));
    this.pos = nl + 1;
    return line;
  }

  /** The last line when the bytes ended without "\n" (at EOF), or undefined. */
  end(): string | undefined {
    if (this.partialBytes === 0) return undefined;
    return this.take(EMPTY);
  }

  /** The held start of the line alone is too long: its first `keep` bytes as a cut line, the rest held on. */
  private cutHeld(keep: number): string {
    const all = this.concat(EMPTY);
    const cut = charBoundary(all, keep) || keep;
    const rest = all.slice(cut);
    this.partial = rest.length > 0 ? [rest] : [];
    this.partialBytes = rest.length;
    return this.decoder.decode(all.subarray(0, cut)) + CUT_MARK;
  }

  /** Decodes the held start of the line followed by `rest`, and forgets the start. */
  private take(rest: Uint8Array): string {
    if (this.partial.length === 0) return this.decoder.decode(rest);
    const all = this.concat(rest);
    this.partial = [];
    this.partialBytes = 0;
    return this.decoder.decode(all);
  }

  private concat(rest: Uint8Array): Uint8Array {
    const all = new Uint8Array(this.partialBytes + rest.length);
    let at = 0;
    for (const p of this.partial) {
      all.set(p, at);
      at += p.length;
    }
    all.set(rest, at);
    return all;
  }
}
