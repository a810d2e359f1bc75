// HPACK (RFC 7541) for the machine API's own HTTP/2 server, which replaces
// node:http2 to cut PID 1's memory. The decoder is complete, since a peer may
// use every representation of section 6 (indexed fields, literals with
// incremental indexing, without indexing and never indexed, dynamic table
// size updates), the dynamic table of sections 2.3 and 4 with its eviction
// rules, the integers of 5.1 and the Huffman-coded strings of 5.2 with
// Appendix B's code. The encoder is deliberately stateless: it never inserts
// into the peer's dynamic table, so there is no table size to coordinate
// (section 4.2) and no per-connection encoder state; the static table
// (Appendix A) already covers what a gRPC response repeats most. Anything
// malformed is an HpackError, which RFC 9113 section 4.3 makes a connection
// error of type COMPRESSION_ERROR.

/** A header block that cannot be decoded: a COMPRESSION_ERROR for the whole connection (RFC 9113 section 4.3). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

// Appendix A. Index i is STATIC_NAMES[i - 1]; only the first 16 entries have values.
const STATIC_NAMES: readonly string[] = [
  ":authority",
  ":method",
  ":method",
  ":path",
  ":path",
  ":scheme",
  ":scheme",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  ":status",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "accept-ranges",
  "accept",
  "access-control-allow-origin",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-range",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expect",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "link",
  "location",
  "max-forwards",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "refresh",
  "retry-after",
  "server",
  "set-cookie",
  "strict-transport-security",
  "transfer-encoding",
  "user-agent",
  "vary",
  "via",
  "www-authenticate",
];
const STATIC_VALUES: readonly string[] = [
  "",
  "GET",
  "POST",
  "/",
  "/index.html",
  "http",
  "https",
  "200",
  "204",
  "206",
  "304",
  "400",
  "404",
  "500",
  "",
  "gzip, deflate",
];
const STATIC_COUNT = 61;

/** RFC 4.1: an entry's size counts 32 octets of overhead on top of its name and value. */
const ENTRY_OVERHEAD = 32;

/** Integers beyond this are refused: nothing legitimate needs them, and they would stop being exact int32 arithmetic. */
const MAX_INT = 0x7fffffff;

function staticValue(index: number): string {
  return STATIC_VALUES[index - 1] ?? "";
}

// ---------------------------------------------------------------------------
// Huffman (section 5.2, Appendix B)

// Appendix B's code is canonical: within one length the codes count up in
// symbol order, and each length starts where the previous one left off,
// shifted. So the code lengths alone determine every code, and these 257
// octets (the "[n]" column of Appendix B, row 0x00-0x0f first) are the whole
// table. Decoding a wrong length would break the C.4/C.6 examples and the
// per-symbol test against Appendix B's own codes.
// biome-ignore format: laid out sixteen symbols a row so it can be read against Appendix B
const HUFFMAN_LENGTHS = new Uint8Array([
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00-0x0f
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10-0x1f
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, // 0x20-0x2f
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, // 0x30-0x3f
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, // 0x40-0x4f
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, // 0x50-0x5f
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, // 0x60-0x6f
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 0x70-0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80-0x8f
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90-0x9f
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0-0xaf
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0-0xbf
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0-0xcf
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0-0xdf
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0-0xef
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0-0xff
  30, // EOS
]);
const EOS = 256;
const MAX_CODE_LENGTH = 30;

/**
 * Decoding structures, built on the first Huffman string so that a process
 * that never sees one (or has not yet) pays nothing for them: about 1.4 KiB.
 */
interface HuffmanTables {
  /** By the next 8 input bits: (length << 9) | symbol for a code of at most 8 bits, else 0. */
  root: Uint16Array;
  /** Canonical code of the first symbol of each length (index = length). */
  first: Int32Array;
  /** Number of symbols of each length. */
  count: Int32Array;
  /** Where each length's symbols start in `symbols`. */
  offset: Int32Array;
  /** Symbols ordered by (length, symbol), the order canonical codes are handed out in. */
  symbols: Uint16Array;
}
let huffman: HuffmanTables | undefined;

function buildHuffman(): HuffmanTables {
  const count = new Int32Array(MAX_CODE_LENGTH + 1);
  for (const len of HUFFMAN_LENGTHS) count[len]!++;
  const first = new Int32Array(MAX_CODE_LENGTH + 1);
  const offset = new Int32Array(MAX_CODE_LENGTH + 1);
  for (let len = 1, code = 0, at = 0; len <= MAX_CODE_LENGTH; len++) {
    first[len] = code;
    offset[len] = at;
    code = (code + count[len]!) << 1;
    at += count[len]!;
  }
  const symbols = new Uint16Array(HUFFMAN_LENGTHS.length);
  const next = offset.slice();
  for (let sym = 0; sym < HUFFMAN_LENGTHS.length; sym++) symbols[next[HUFFMAN_LENGTHS[sym]!]!++] = sym;
  const root = new Uint16Array(256);
  for (let len = 1; len <= 8; len++) {
    for (let k = 0; k < count[len]!; k++) {
      const lo = (first[len]! + k) << (8 - len);
      root.fill((len << 9) | symbols[offset[len]! + k]!, lo, lo + (1 << (8 - len)));
    }
  }
  return { root, first, count, offset, symbols };
}

/** Huffman output goes here and is read back as latin1; reused so a typical string allocates only its result. */
let huffmanScratch: Buffer | undefined;
/** A larger output gets a buffer of its own rather than leaving a big scratch buffer behind in PID 1. */
const SCRATCH_KEEP = 4096;

function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  const { root, first, count, offset, symbols } = (huffman ??= buildHuffman());
  // The shortest code is 5 bits, which bounds the output.
  const most = Math.floor(((end - start) * 8) / 5);
  let out = huffmanScratch;
  if (out === undefined || out.length < most) {
    out = Buffer.allocUnsafe(Math.max(most, 256));
    if (out.length <= SCRATCH_KEEP) huffmanScratch = out;
  }
  // The low `bits` bits of `acc` are the input not yet consumed (anything
  // above them is stale and masked off on use); refills happen only below 8
  // bits, so at most 31 are ever live in the int32.
  let acc = 0;
  let bits = 0;
  let i = start;
  let n = 0;
  for (;;) {
    if (bits < 8) {
      if (end - i >= 3) {
        acc = (acc << 24) | (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
        i += 3;
        bits += 24;
      } else if (i < end) {
        acc = (acc << 8) | src[i++]!;
        bits += 8;
      } else {
        break;
      }
    }
    const e = root[(acc >>> (bits - 8)) & 0xff]!;
    if (e !== 0) {
      out[n++] = e & 0xff;
      bits -= e >>> 9;
      continue;
    }
    // A code longer than 8 bits (only rare octets, and EOS): extend the 8-bit
    // prefix a bit at a time until it falls within one length's run of
    // canonical codes.
    let code = (acc >>> (bits - 8)) & 0xff;
    bits -= 8;
    let sym = -1;
    for (let len = 9; len <= MAX_CODE_LENGTH; len++) {
      if (bits === 0) {
        // Cut off inside a code whose first 8 bits were present: as padding that would be more than 7 bits.
        if (i >= end) throw new HpackError("Huffman string ends inside a code or pads with more than 7 bits");
        acc = (acc << 8) | src[i++]!;
        bits = 8;
      }
      bits--;
      code = (code << 1) | ((acc >>> bits) & 1);
      const k = code - first[len]!;
      if (k >= 0 && k < count[len]!) {
        sym = symbols[offset[len]! + k]!;
        break;
      }
    }
    // The code is complete (its Kraft sum is 1), so 30 bits always end in a symbol; -1 would mean a broken table.
    if (sym === EOS || sym < 0) throw new HpackError("Huffman string contains EOS");
    out[n++] = sym;
  }
  // Fewer than 8 bits are left: codes of up to 7 bits may still end here, and
  // what follows them must be padding, the most significant bits of EOS.
  while (bits > 0) {
    const ones = (1 << bits) - 1;
    const tail = acc & ones;
    const e = root[(tail << (8 - bits)) | (0xff >>> bits)]!;
    const len = e >>> 9;
    if (len === 0 || len > bits) {
      if (tail !== ones) throw new HpackError("Huffman string padding is not all ones");
      break;
    }
    out[n++] = e & 0xff;
    bits -= len;
  }
  return out.toString("latin1", 0, n);
}

// ---------------------------------------------------------------------------
// Decoder

const EMPTY = Buffer.alloc(0);

/**
 * One connection's HPACK decoding context. The dynamic table carries over
 * from one header block to the next, so blocks must be decoded in the order
 * they arrived on the connection; after an HpackError the table no longer
 * matches the peer's, so the decoder refuses any further block.
 */
export class HpackDecoder {
  /** The SETTINGS_HEADER_TABLE_SIZE we advertised: the most a size update may ask for. */
  private readonly maxTableSize: number;
  private readonly maxHeaderListBytes: number;
  /** The table's current maximum size, set by the peer's size updates (section 4.2). */
  private capacity: number;
  private size = 0;
  // The dynamic table as a ring of parallel arrays, oldest entry at `head`;
  // its length is a power of two (or zero before the first insertion).
  private names: string[] = [];
  private values: string[] = [];
  private head = 0;
  private count = 0;
  private failed = false;
  // The block being decoded and the read position in it, only during decode().
  private buf: Buffer = EMPTY;
  private pos = 0;

  constructor(maxTableSize = 4096, maxHeaderListBytes = 64 * 1024) {
    this.maxTableSize = maxTableSize;
    this.maxHeaderListBytes = maxHeaderListBytes;
    this.capacity = maxTableSize;
  }

  /** Octets the dynamic table holds, as section 4.1 counts them. */
  get tableSize(): number {
    return this.size;
  }

  /** The dynamic table's maximum size, as last set by the peer. */
  get tableMaxSize(): number {
    return this.capacity;
  }

  /** The dynamic table, newest entry (index 62) first. */
  tableEntries(): [string, string][] {
    const out: [string, string][] = [];
    for (let d = 1; d <= this.count; d++) {
      const slot = this.slot(d);
      out.push([this.names[slot]!, this.values[slot]!]);
    }
    return out;
  }

  /** Decodes one complete header block (HEADERS plus any CONTINUATION payloads, joined). */
  decode(block: Uint8Array): [string, string][] {
    if (this.failed) throw new HpackError("HPACK decoder already failed on this connection");
    this.buf = block instanceof Buffer ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    this.pos = 0;
    try {
      return this.fields();
    } catch (err) {
      this.failed = true;
      throw err;
    } finally {
      this.buf = EMPTY;
    }
  }

  private fields(): [string, string][] {
    const buf = this.buf;
    const end = buf.length;
    const out: [string, string][] = [];
    let listBytes = 0;
    let atStart = true;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // 6.1 Indexed Header Field.
        const index = this.integer(0x7f);
        if (index === 0) throw new HpackError("HPACK index 0");
        name = this.nameAt(index);
        value = index <= STATIC_COUNT ? staticValue(index) : this.values[this.slot(index - STATIC_COUNT)]!;
      } else if (b & 0x40) {
        // 6.2.1 Literal Header Field with Incremental Indexing.
        const index = this.integer(0x3f);
        name = index === 0 ? this.string() : this.nameAt(index);
        value = this.string();
        this.insert(name, value);
      } else if (b & 0x20) {
        // 6.3 Dynamic Table Size Update: only before the block's first field (section 4.2).
        if (!atStart) throw new HpackError("HPACK dynamic table size update after a header field");
        const max = this.integer(0x1f);
        if (max > this.maxTableSize) throw new HpackError(`HPACK dynamic table size update to ${max} exceeds the limit ${this.maxTableSize}`);
        this.capacity = max;
        this.evictTo(max);
        continue;
      } else {
        // 6.2.2 without indexing (0000) and 6.2.3 never indexed (0001): to a decoder the same.
        const index = this.integer(0x0f);
        name = index === 0 ? this.string() : this.nameAt(index);
        value = this.string();
      }
      atStart = false;
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > this.maxHeaderListBytes) throw new HpackError(`header list exceeds ${this.maxHeaderListBytes} bytes`);
      out.push([name, value]);
    }
    return out;
  }

  /** 5.1: an integer whose first octet (at pos, known to exist) keeps the bits in `mask`. */
  private integer(mask: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let value = buf[pos++]! & mask;
    if (value === mask) {
      // At most five continuation octets: enough for MAX_INT, and a bound on leading-zero padding.
      for (let scale = 1; ; scale *= 128) {
        if (scale > 2 ** 28) throw new HpackError("HPACK integer overflow");
        if (pos >= buf.length) throw new HpackError("HPACK block truncated inside an integer");
        const b = buf[pos++]!;
        value += (b & 0x7f) * scale;
        if (value > MAX_INT) throw new HpackError("HPACK integer overflow");
        if ((b & 0x80) === 0) break;
      }
    }
    this.pos = pos;
    return value;
  }

  /** 5.2: a string literal, octets read as latin1. */
  private string(): string {
    const buf = this.buf;
    if (this.pos >= buf.length) throw new HpackError("HPACK block truncated before a string");
    const huffmanCoded = (buf[this.pos]! & 0x80) !== 0;
    const len = this.integer(0x7f);
    const start = this.pos;
    const stop = start + len;
    if (stop > buf.length) throw new HpackError("HPACK block truncated inside a string");
    this.pos = stop;
    return huffmanCoded ? huffmanDecode(buf, start, stop) : buf.toString("latin1", start, stop);
  }

  private nameAt(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_NAMES[index - 1]!;
    if (index - STATIC_COUNT > this.count) throw new HpackError(`HPACK index ${index} is beyond the tables`);
    return this.names[this.slot(index - STATIC_COUNT)]!;
  }

  /** The ring slot of dynamic entry d (1 = newest); d must be within the table. */
  private slot(d: number): number {
    return (this.head + this.count - d) & (this.names.length - 1);
  }

  /** 4.4: evict from the old end to make room; an entry bigger than the whole table just empties it. */
  private insert(name: string, value: string): void {
    const entry = name.length + value.length + ENTRY_OVERHEAD;
    if (entry > this.capacity) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.capacity - entry);
    if (this.count === this.names.length) this.grow();
    const slot = (this.head + this.count) & (this.names.length - 1);
    this.names[slot] = name;
    this.values[slot] = value;
    this.count++;
    this.size += entry;
  }

  private evictTo(limit: number): void {
    const mask = this.names.length - 1;
    while (this.size > limit) {
      const slot = this.head;
      this.size -= this.names[slot]!.length + this.values[slot]!.length + ENTRY_OVERHEAD;
      // Drop the references so evicted strings can be collected.
      this.names[slot] = "";
      this.values[slot] = "";
      this.head = (slot + 1) & mask;
      this.count--;
    }
  }

  private grow(): void {
    const old = this.names.length;
    const length = old === 0 ? 8 : old * 2;
    const names = new Array<string>(length).fill("");
    const values = new Array<string>(length).fill("");
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) & (old - 1);
      names[k] = this.names[slot]!;
      values[k] = this.values[slot]!;
    }
    this.names = names;
    this.values = values;
    this.head = 0;
  }
}

// ---------------------------------------------------------------------------
// Encoder

/** Header name to its first static index; entries sharing a name are adjacent in Appendix A. */
let staticNameIndex: Map<string, number> | undefined;

function buildStaticNameIndex(): Map<string, number> {
  const map = new Map<string, number>();
  for (let i = STATIC_COUNT; i >= 1; i--) map.set(STATIC_NAMES[i - 1]!, i);
  return map;
}

/** Octets of a 5.1 integer with an n-bit prefix whose all-ones value is `max`. */
function integerLength(value: number, max: number): number {
  if (value < max) return 1;
  let n = 2;
  for (value -= max; value >= 128; value = Math.floor(value / 128)) n++;
  return n;
}

function writeInteger(out: Uint8Array, pos: number, value: number, max: number, pattern: number): number {
  if (value < max) {
    out[pos++] = pattern | value;
    return pos;
  }
  out[pos++] = pattern | max;
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out[pos++] = (value % 128) | 0x80;
  out[pos++] = value;
  return pos;
}

/** A string literal without Huffman coding (H = 0): 7-bit-prefix length, then the octets. */
function writeString(out: Uint8Array, pos: number, s: string): number {
  pos = writeInteger(out, pos, s.length, 0x7f, 0);
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    // Header octets travel as latin1; a wider character would be silently truncated.
    if (c > 0xff) throw new RangeError(`header text has a character beyond latin1 (U+${c.toString(16).padStart(4, "0")})`);
    out[pos++] = c;
  }
  return pos;
}

/** How to send a field: i > 0 as static entry i, -i as static name i with a literal value, 0 with a literal name. */
function classify(index: Map<string, number>, name: string, value: string): number {
  const first = index.get(name);
  if (first === undefined) return 0;
  for (let i = first; i <= STATIC_COUNT && STATIC_NAMES[i - 1] === name; i++) {
    if (staticValue(i) === value) return i;
  }
  return -first;
}

/**
 * Encodes a header list without touching any dynamic table (so without
 * Huffman coding either): a field equal to a static entry as that index
 * (6.1), any other as a literal without indexing (6.2.2), its name as a
 * static index when Appendix A has it. Names are sent as given; the caller
 * supplies them in lower case as HTTP/2 requires.
 */
export function encodeHeaders(fields: readonly (readonly [string, string])[]): Uint8Array {
  const index = (staticNameIndex ??= buildStaticNameIndex());
  // A first pass sizes the output exactly. Classifying each field again in the second measured faster than keeping a plan.
  let size = 0;
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const name = field[0];
    const value = field[1];
    const how = classify(index, name, value);
    if (how > 0) {
      size += integerLength(how, 0x7f);
      continue;
    }
    size += how === 0 ? 1 + integerLength(name.length, 0x7f) + name.length : integerLength(-how, 0x0f);
    size += integerLength(value.length, 0x7f) + value.length;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f]!;
    const name = field[0];
    const value = field[1];
    const how = classify(index, name, value);
    if (how > 0) {
      // 6.1 Indexed Header Field.
      pos = writeInteger(out, pos, how, 0x7f, 0x80);
      continue;
    }
    // 6.2.2 Literal Header Field without Indexing.
    if (how === 0) {
      out[pos++] = 0;
      pos = writeString(out, pos, name);
    } else {
      pos = writeInteger(out, pos, -how, 0x0f, 0);
    }
    pos = writeString(out, pos, value);
  }
  return out;
}
