// Protobuf encode/decode of the machine API's messages without protobufjs,
// driven by the tables scripts/gen-proto.ts generates (MESSAGES, ENUMS).
// protobufjs, its light build and `long` cost PID 1 ~5.6 ms of CPU and
// ~12 MiB of RSS at start (bench: a compiled binary importing only them),
// before any schema is built. The semantics are protobufjs's, as
// src/api/schema.ts used it, and test/unit/api/codec.test.ts checks them
// against protobufjs for every message type:
// - decode: snake_case keys in protobufjs's order (repeated fields, then the
//   singular ones, by field number; oneof members as present, each followed
//   by its oneof's name); defaults filled in (messages null, enums by the
//   name of their first value, bytes an empty Buffer); enums by name (an
//   unknown number stays a number); 64-bit ints as numbers while exact,
//   decimal strings past 2^53; bytes as views of the input (a Buffer when the
//   input is one).
// - encode: fromObject's conversions (enums by name or number, unknown names
//   dropped; 64-bit from number, decimal string, bigint or {low, high};
//   bytes from a Uint8Array or base64), proto3 implicit presence (scalar
//   defaults are not written unless in a oneof), fields by number, repeated
//   scalars packed; TypeErrors named like protobufjs's for a message or
//   repeated field given the wrong kind of value.

type Row = readonly [string, number, string, 0 | 1, string?];

export interface CodecTables {
  messages: Record<string, readonly Row[]>;
  enums: Record<string, Record<string, number>>;
}

enum K {
  Double,
  Float,
  Int32,
  Uint32,
  Sint32,
  Fixed32,
  Sfixed32,
  Int64,
  Uint64,
  Sint64,
  Fixed64,
  Sfixed64,
  Bool,
  String,
  Bytes,
  Enum,
  Message,
}

const SCALAR: Record<string, K> = {
  double: K.Double,
  float: K.Float,
  int32: K.Int32,
  uint32: K.Uint32,
  sint32: K.Sint32,
  fixed32: K.Fixed32,
  sfixed32: K.Sfixed32,
  int64: K.Int64,
  uint64: K.Uint64,
  sint64: K.Sint64,
  fixed64: K.Fixed64,
  sfixed64: K.Sfixed64,
  bool: K.Bool,
  string: K.String,
  bytes: K.Bytes,
};

/** Wire type per kind: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit. */
const WIRE: Record<K, number> = {
  [K.Double]: 1,
  [K.Float]: 5,
  [K.Int32]: 0,
  [K.Uint32]: 0,
  [K.Sint32]: 0,
  [K.Fixed32]: 5,
  [K.Sfixed32]: 5,
  [K.Int64]: 0,
  [K.Uint64]: 0,
  [K.Sint64]: 0,
  [K.Fixed64]: 1,
  [K.Sfixed64]: 1,
  [K.Bool]: 0,
  [K.String]: 2,
  [K.Bytes]: 2,
  [K.Enum]: 0,
  [K.Message]: 2,
};

const isLong = (k: K) => k >= K.Int64 && k <= K.Sfixed64;

export interface EnumDesc {
  readonly name: string;
  readonly values: Record<string, number>;
  /** Number -> name (the last name of an alias wins, as in protobufjs). */
  readonly names: Map<number, string>;
  /** The first declared value: proto3's default. */
  readonly first: number;
}

export interface FieldDesc {
  readonly name: string;
  readonly id: number;
  readonly kind: K;
  /** A message-typed field (its type is typeName). */
  readonly isMessage: boolean;
  readonly repeated: boolean;
  readonly oneof: string | undefined;
  /** The enum or message type's full name (kind Enum/Message). */
  readonly typeName: string;
  /** Set for kind Enum. */
  readonly enumType: EnumDesc | undefined;
}

export interface MessageDesc {
  readonly name: string;
  /** Declaration order. */
  readonly fields: readonly FieldDesc[];
  /** By field number (encode order, and protobufjs's toObject order). */
  readonly byNumber: readonly FieldDesc[];
  readonly byId: ReadonlyMap<number, FieldDesc>;
}

export interface Codec {
  message(name: string): MessageDesc;
  encode(name: string, value: object): Uint8Array;
  decode<T>(name: string, bytes: Uint8Array): T;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function createCodec(tables: CodecTables): Codec {
  const enumCache = new Map<string, EnumDesc>();
  const msgCache = new Map<string, MessageDesc>();

  const enumDesc = (name: string): EnumDesc => {
    let e = enumCache.get(name);
    if (!e) {
      const values = tables.enums[name]!;
      const names = new Map<number, string>();
      for (const [k, v] of Object.entries(values)) names.set(v, k);
      e = { name, values, names, first: Object.values(values)[0] ?? 0 };
      enumCache.set(name, e);
    }
    return e;
  };

  const message = (name: string): MessageDesc => {
    let m = msgCache.get(name);
    if (m) return m;
    const rows = tables.messages[name];
    if (!rows) throw new Error(`no such type: ${name}`);
    const fields = rows.map(([fname, id, type, rep, oneof]): FieldDesc => {
      const scalar = SCALAR[type];
      const isEnum = scalar === undefined && Object.hasOwn(tables.enums, type);
      return {
        name: fname,
        id,
        kind: scalar ?? (isEnum ? K.Enum : K.Message),
        isMessage: scalar === undefined && !isEnum,
        repeated: rep === 1,
        oneof,
        typeName: type,
        enumType: isEnum ? enumDesc(type) : undefined,
      };
    });
    const byNumber = [...fields].sort((a, b) => a.id - b.id);
    m = { name, fields, byNumber, byId: new Map(fields.map((f) => [f.id, f])) };
    msgCache.set(name, m);
    return m;
  };

  // --- decode ---

  class Reader {
    pos: number;
    readonly view: DataView;
    constructor(
      readonly buf: Uint8Array,
      start: number,
      readonly end: number,
      readonly asBuffer: boolean,
    ) {
      this.pos = start;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    need(n: number): void {
      if (this.pos + n > this.end) throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.end}`);
    }
    /** A varint's low 32 bits (as protobufjs's uint32()), skipping the rest of a long one. */
    varint32(): number {
      let v = 0;
      for (let shift = 0; ; shift += 7) {
        this.need(1);
        const b = this.buf[this.pos++]!;
        if (shift < 32) v |= (b & 0x7f) << shift;
        if (b < 0x80) return v >>> 0;
        if (shift >= 63) throw new Error("invalid varint encoding");
      }
    }
    varint64(): bigint {
      let lo = 0;
      let hi = 0;
      for (let i = 0; ; i++) {
        this.need(1);
        const b = this.buf[this.pos++]!;
        if (i < 4) lo |= (b & 0x7f) << (i * 7);
        else if (i === 4) {
          lo |= (b & 0x0f) << 28;
          hi |= (b & 0x7f) >> 4;
        } else hi |= (b & 0x7f) << (i * 7 - 32);
        if (b < 0x80) break;
        if (i >= 9) throw new Error("invalid varint encoding");
      }
      return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    fixed32(): number {
      this.need(4);
      const v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      return v;
    }
    fixed64(): bigint {
      this.need(8);
      const v = this.view.getBigUint64(this.pos, true);
      this.pos += 8;
      return v;
    }
    bytes(): Uint8Array {
      const n = this.varint32();
      this.need(n);
      const start = this.pos;
      this.pos += n;
      if (this.asBuffer) return (this.buf as Buffer).subarray(start, start + n);
      return this.buf.subarray(start, start + n);
    }
    skip(wire: number): void {
      switch (wire) {
        case 0:
          this.varint64();
          return;
        case 1:
          this.need(8);
          this.pos += 8;
          return;
        case 2: {
          const n = this.varint32();
          this.need(n);
          this.pos += n;
          return;
        }
        case 3:
          for (;;) {
            const tag = this.varint32();
            if ((tag & 7) === 4) return;
            this.skip(tag & 7);
          }
        case 5:
          this.need(4);
          this.pos += 4;
          return;
        default:
          throw new Error(`invalid wire type ${wire} at offset ${this.pos}`);
      }
    }
  }

  /** A 64-bit value as decode hands it out: a number while exact, else its decimal string. */
  const exact = (v: bigint): number | string => (v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString());

  const scalar = (r: Reader, k: K): unknown => {
    switch (k) {
      case K.Double: {
        r.need(8);
        const v = r.view.getFloat64(r.pos, true);
        r.pos += 8;
        return v;
      }
      case K.Float: {
        r.need(4);
        const v = r.view.getFloat32(r.pos, true);
        r.pos += 4;
        return v;
      }
      case K.Int32:
        return r.varint32() | 0;
      case K.Uint32:
        return r.varint32();
      case K.Sint32: {
        const v = r.varint32();
        return (v >>> 1) ^ -(v & 1);
      }
      case K.Fixed32:
        return r.fixed32();
      case K.Sfixed32:
        return r.fixed32() | 0;
      case K.Int64:
        return exact(BigInt.asIntN(64, r.varint64()));
      case K.Uint64:
        return exact(r.varint64());
      case K.Sint64: {
        const v = r.varint64();
        return exact((v >> 1n) ^ -(v & 1n));
      }
      case K.Fixed64:
        return exact(r.fixed64());
      case K.Sfixed64:
        return exact(BigInt.asIntN(64, r.fixed64()));
      case K.Bool:
        return r.varint64() !== 0n;
      case K.String: {
        const b = r.bytes();
        return b.length === 0 ? "" : textDecoder.decode(b);
      }
      case K.Bytes:
        return r.bytes();
      default:
        throw new Error(`not a scalar kind ${k}`);
    }
  };

  const enumOut = (f: FieldDesc, n: number): string | number => f.enumType!.names.get(n) ?? n;

  const defaultOf = (f: FieldDesc): unknown => {
    switch (f.kind) {
      case K.Message:
        return null;
      case K.Enum:
        return enumOut(f, f.enumType!.first);
      case K.Bool:
        return false;
      case K.String:
        return "";
      case K.Bytes:
        return Buffer.alloc(0);
      default:
        return 0;
    }
  };

  const decodeMessage = (d: MessageDesc, r: Reader, end: number, depth: number): Record<string, unknown> => {
    if (depth > 100) throw new Error("max depth exceeded");
    const present = new Map<FieldDesc, unknown>();
    const arrays = new Map<FieldDesc, unknown[]>();
    while (r.pos < end) {
      const tag = r.varint32();
      const id = tag >>> 3;
      const wire = tag & 7;
      const f = d.byId.get(id);
      if (!f) {
        r.skip(wire);
        continue;
      }
      if (f.repeated) {
        let arr = arrays.get(f);
        if (!arr) arrays.set(f, (arr = []));
        if (f.kind === K.Message) {
          const n = r.varint32();
          const stop = r.pos + n;
          r.need(n);
          arr.push(decodeMessage(message(f.typeName), r, stop, depth + 1));
        } else if (wire === 2 && WIRE[f.kind] !== 2) {
          const n = r.varint32();
          const stop = r.pos + n;
          r.need(n);
          while (r.pos < stop) arr.push(f.kind === K.Enum ? enumOut(f, r.varint32() | 0) : scalar(r, f.kind));
        } else arr.push(f.kind === K.Enum ? enumOut(f, r.varint32() | 0) : scalar(r, f.kind));
        continue;
      }
      // A oneof keeps the member read last (protobufjs clears the others).
      if (f.oneof) for (const g of present.keys()) if (g.oneof === f.oneof) present.delete(g);
      if (f.kind === K.Message) {
        const n = r.varint32();
        const stop = r.pos + n;
        r.need(n);
        // A repeated occurrence replaces the earlier one (protobufjs does not merge).
        present.delete(f);
        present.set(f, decodeMessage(message(f.typeName), r, stop, depth + 1));
      } else {
        present.delete(f);
        present.set(f, f.kind === K.Enum ? enumOut(f, r.varint32() | 0) : scalar(r, f.kind));
      }
    }
    if (r.pos !== end) throw new RangeError(`index out of range: ${r.pos} > ${end}`);
    // protobufjs's toObject: repeated fields first, then the singular ones with defaults, by number.
    const out: Record<string, unknown> = {};
    for (const f of d.byNumber) if (f.repeated && !f.oneof) out[f.name] = [];
    for (const f of d.byNumber) if (!f.repeated && !f.oneof) out[f.name] = defaultOf(f);
    for (const f of d.byNumber) {
      if (f.repeated) {
        const arr = arrays.get(f);
        if (arr?.length) out[f.name] = arr;
      } else if (present.has(f)) {
        out[f.name] = present.get(f);
        if (f.oneof) out[f.oneof] = f.name;
      }
    }
    return out;
  };

  // --- encode ---

  class Writer {
    buf = new Uint8Array(256);
    view = new DataView(this.buf.buffer);
    len = 0;
    grow(n: number): void {
      if (this.len + n <= this.buf.length) return;
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    varint(v: number): void {
      this.grow(5);
      v >>>= 0;
      while (v > 0x7f) {
        this.buf[this.len++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.len++] = v;
    }
    varint64(v: bigint): void {
      this.grow(10);
      let x = BigInt.asUintN(64, v);
      while (x > 0x7fn) {
        this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
        x >>= 7n;
      }
      this.buf[this.len++] = Number(x);
    }
    int32(v: number): void {
      if (v < 0) this.varint64(BigInt(v));
      else this.varint(v);
    }
    tag(id: number, wire: number): void {
      this.varint(((id << 3) | wire) >>> 0);
    }
    raw(b: Uint8Array): void {
      this.varint(b.length);
      this.grow(b.length);
      this.buf.set(b, this.len);
      this.len += b.length;
    }
    /** Reserves room for a length prefix, returns where the body starts. */
    fork(): number {
      return this.len;
    }
    /** Writes the length of what was written since fork() in front of it. */
    ldelim(start: number): void {
      const n = this.len - start;
      let size = 1;
      for (let x = n; x > 0x7f; x >>>= 7) size++;
      this.grow(size);
      this.buf.copyWithin(start + size, start, this.len);
      let x = n;
      let p = start;
      while (x > 0x7f) {
        this.buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.buf[p] = x;
      this.len += size;
    }
    /** A Buffer of exactly the message, as protobufjs's writer returns under Node/Bun. */
    finish(): Uint8Array {
      const out = Buffer.allocUnsafe(this.len);
      out.set(this.buf.subarray(0, this.len));
      return out;
    }
  }

  /** Long.fromValue's inputs as 64 bits (signed view; the writer takes them mod 2^64). */
  const toLong = (v: unknown, unsigned: boolean): bigint => {
    if (typeof v === "bigint") return BigInt.asIntN(64, v);
    if (typeof v === "number") {
      if (Number.isNaN(v)) return 0n;
      if (unsigned) {
        if (v < 0) return 0n;
        if (v >= 2 ** 64) return 2n ** 64n - 1n;
      } else {
        if (v <= -(2 ** 63)) return -(2n ** 63n);
        if (v + 1 >= 2 ** 63) return 2n ** 63n - 1n;
      }
      return BigInt(Math.trunc(v));
    }
    if (typeof v === "string") {
      try {
        return BigInt.asIntN(64, BigInt(v));
      } catch {
        return 0n;
      }
    }
    if (typeof v === "object" && v !== null && "low" in v && "high" in v) {
      const o = v as { low: number; high: number };
      return BigInt.asIntN(64, (BigInt(o.high >>> 0) << 32n) | BigInt(o.low >>> 0));
    }
    return 0n;
  };

  /** fromObject's conversion of one scalar; undefined when an enum name is unknown (the value is dropped). */
  const convert = (f: FieldDesc, v: unknown): unknown => {
    switch (f.kind) {
      case K.Enum: {
        if (typeof v === "string") return Object.hasOwn(f.enumType!.values, v) ? f.enumType!.values[v] : undefined;
        if (typeof v === "number" && (v | 0) === v) return v;
        return undefined;
      }
      case K.Double:
      case K.Float:
        return Number(v);
      case K.Uint32:
      case K.Fixed32:
        return (v as number) >>> 0;
      case K.Int32:
      case K.Sint32:
      case K.Sfixed32:
        return (v as number) | 0;
      case K.Bool:
        return Boolean(v);
      case K.String:
        return String(v);
      case K.Bytes:
        if (typeof v === "string") return Buffer.from(v, "base64");
        return (v as { length?: number }).length !== undefined && (v as { length: number }).length >= 0 ? v : undefined;
      default:
        return toLong(v, f.kind === K.Uint64 || f.kind === K.Fixed64);
    }
  };

  /** proto3 implicit presence: a singular scalar outside a oneof is not written at its default. */
  const isDefault = (f: FieldDesc, v: unknown): boolean => {
    switch (f.kind) {
      case K.Enum:
        return v === f.enumType!.first;
      case K.Bool:
        return v === false;
      case K.String:
        return v === "";
      case K.Bytes:
        return (v as Uint8Array).length === 0;
      case K.Double:
      case K.Float:
        return Object.is(v, 0);
      default:
        return isLong(f.kind) ? v === 0n : v === 0;
    }
  };

  const writeScalar = (w: Writer, k: K, v: unknown): void => {
    switch (k) {
      case K.Double:
        w.grow(8);
        w.view.setFloat64(w.len, v as number, true);
        w.len += 8;
        return;
      case K.Float:
        w.grow(4);
        w.view.setFloat32(w.len, v as number, true);
        w.len += 4;
        return;
      case K.Int32:
      case K.Enum:
        w.int32(v as number);
        return;
      case K.Uint32:
        w.varint(v as number);
        return;
      case K.Sint32:
        w.varint((((v as number) << 1) ^ ((v as number) >> 31)) >>> 0);
        return;
      case K.Fixed32:
      case K.Sfixed32:
        w.grow(4);
        w.view.setUint32(w.len, (v as number) >>> 0, true);
        w.len += 4;
        return;
      case K.Int64:
      case K.Uint64:
        w.varint64(v as bigint);
        return;
      case K.Sint64: {
        const s = BigInt.asIntN(64, v as bigint);
        w.varint64((s << 1n) ^ (s >> 63n));
        return;
      }
      case K.Fixed64:
      case K.Sfixed64:
        w.grow(8);
        w.view.setBigUint64(w.len, BigInt.asUintN(64, v as bigint), true);
        w.len += 8;
        return;
      case K.Bool:
        w.varint(v ? 1 : 0);
        return;
      case K.String:
        w.raw(textEncoder.encode(v as string));
        return;
      case K.Bytes:
        w.raw(v instanceof Uint8Array ? v : Uint8Array.from(v as ArrayLike<number>));
        return;
      default:
        throw new Error(`not a scalar kind ${k}`);
    }
  };

  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

  const encodeMessage = (d: MessageDesc, value: unknown, w: Writer, depth: number): void => {
    if (!isObject(value)) throw new TypeError(`.${d.name}: object expected`);
    if (depth > 100) throw new Error("max depth exceeded");
    // fromObject first (declaration order: its TypeErrors come in that order), then write by number.
    const converted = new Map<FieldDesc, unknown>();
    for (const f of d.fields) {
      const v = value[f.name];
      if (f.repeated) {
        if (!v) continue;
        if (!Array.isArray(v)) throw new TypeError(`.${d.name}.${f.name}: array expected`);
        if (f.kind === K.Message) {
          for (const x of v) if (!isObject(x)) throw new TypeError(`.${d.name}.${f.name}: object expected`);
          converted.set(f, v);
        } else {
          const out: unknown[] = [];
          for (const x of v) {
            const c = convert(f, x);
            if (c !== undefined) out.push(c);
            else if (f.kind !== K.Enum) out.push(x);
          }
          converted.set(f, out);
        }
        continue;
      }
      if (v === null || v === undefined) continue;
      if (f.kind === K.Message) {
        if (!isObject(v)) throw new TypeError(`.${d.name}.${f.name}: object expected`);
        converted.set(f, v);
        continue;
      }
      const c = convert(f, v);
      if (c === undefined) continue;
      if (!f.oneof && isDefault(f, c)) continue;
      converted.set(f, c);
    }
    for (const f of d.byNumber) {
      if (!converted.has(f)) continue;
      const v = converted.get(f);
      if (f.repeated) {
        const arr = v as unknown[];
        if (!arr.length) continue;
        if (f.kind === K.Message) {
          for (const x of arr) {
            w.tag(f.id, 2);
            const at = w.fork();
            encodeMessage(message(f.typeName), x, w, depth + 1);
            w.ldelim(at);
          }
        } else if (WIRE[f.kind] !== 2) {
          w.tag(f.id, 2);
          const at = w.fork();
          for (const x of arr) writeScalar(w, f.kind, x);
          w.ldelim(at);
        } else
          for (const x of arr) {
            w.tag(f.id, 2);
            writeScalar(w, f.kind, x);
          }
      } else if (f.kind === K.Message) {
        w.tag(f.id, 2);
        const at = w.fork();
        encodeMessage(message(f.typeName), v, w, depth + 1);
        w.ldelim(at);
      } else {
        w.tag(f.id, WIRE[f.kind]);
        writeScalar(w, f.kind, v);
      }
    }
  };

  return {
    message,
    encode(name, value) {
      const w = new Writer();
      encodeMessage(message(name), value, w, 0);
      return w.finish();
    },
    decode<T>(name: string, bytes: Uint8Array): T {
      const r = new Reader(bytes, 0, bytes.length, Buffer.isBuffer(bytes));
      return decodeMessage(message(name), r, bytes.length, 0) as T;
    },
  };
}
