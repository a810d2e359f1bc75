// Reading a tar stream entry by entry without holding an entry in memory:
// ustar headers (name + prefix, octal size, type), PAX extended headers for
// long paths and sizes, GNU long names. Each entry's body is an async
// iterator of the bytes as they arrive; it must be consumed (or skipped by
// asking for the next entry) before the next header is read.

const BLOCK = 512;

export interface TarEntry {
  /** The path as stored, without a leading "./". */
  name: string;
  size: number;
  /** "0" regular file, "5" directory, "2" symlink, ... */
  type: string;
}

function octal(b: Uint8Array, at: number, len: number): number {
  const text = new TextDecoder()
    .decode(b.subarray(at, at + len))
    .replace(/\0.*$/s, "")
    .trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function cString(b: Uint8Array, at: number, len: number): string {
  const s = b.subarray(at, at + len);
  const nul = s.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? s : s.subarray(0, nul));
}

/** PAX records "LEN key=value\n". */
function paxRecords(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = new TextDecoder().decode(body);
  let at = 0;
  while (at < text.length) {
    const sp = text.indexOf(" ", at);
    if (sp < 0) break;
    const len = Number(text.slice(at, sp));
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = text.slice(sp + 1, at + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    at += len;
  }
  return out;
}

export class TarReader {
  private buf: Uint8Array = new Uint8Array(0);
  private readonly it: AsyncIterator<Uint8Array>;
  private done = false;
  /** Bytes of the current entry's body (and its padding) not yet read. */
  private left = 0;
  private pad = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    return this.buf.length >= n;
  }

  private take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The current entry's bytes, as they arrive. */
  async *body(): AsyncGenerator<Uint8Array> {
    while (this.left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw new Error(`tar: stream ended inside an entry (${this.left} bytes missing)`);
      const n = Math.min(this.left, this.buf.length);
      this.left -= n;
      yield this.take(n);
    }
  }

  private async readBody(size: number): Promise<Uint8Array> {
    if (!(await this.fill(size))) throw new Error("tar: stream ended inside a header entry");
    const out = new Uint8Array(this.take(size));
    await this.skipPadding(size);
    return out;
  }

  private async skipPadding(size: number): Promise<void> {
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad && (await this.fill(pad))) this.take(pad);
  }

  /** The next entry (skipping what is left of the current one), or undefined at the end of the archive. */
  async next(): Promise<TarEntry | undefined> {
    for await (const _ of this.body()) {
      // drain the unread rest of the previous entry
    }
    if (this.pad) {
      if (await this.fill(this.pad)) this.take(this.pad);
      this.pad = 0;
    }
    let longName: string | undefined;
    let pax: Record<string, string> = {};
    for (;;) {
      if (!(await this.fill(BLOCK))) return undefined;
      const h = this.take(BLOCK);
      if (h.every((b) => b === 0)) return undefined;
      const type = String.fromCharCode(h[156] || 48);
      let size = octal(h, 124, 12);
      if (type === "x" || type === "g") {
        const rec = paxRecords(await this.readBody(size));
        if (type === "x") pax = rec;
        continue;
      }
      if (type === "L") {
        longName = cString(await this.readBody(size), 0, size);
        continue;
      }
      const prefix = cString(h, 345, 155);
      let name = longName ?? pax.path ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
      if (pax.size !== undefined) size = Number(pax.size);
      name = name.replace(/^\.\//, "");
      this.left = size;
      this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
      return { name, size, type };
    }
  }
}
