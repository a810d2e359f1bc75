// src/api/codec.ts must encode and decode exactly as protobufjs did for the
// machine API (the way src/api/schema.ts used it before it had its own
// codec): for every message type, random values encode to the same bytes as
// protobufjs's fromObject+encode, and those bytes (and protobufjs's own
// encodings of them) decode to the same objects, key order, value types and
// Buffer-ness included.
import { describe, expect, test } from "bun:test";
import protobuf from "protobufjs/light.js";
import { createCodec } from "../../../src/api/codec.ts";
import { ENUMS, MESSAGES } from "../../../src/api/gen/codec.ts";
import { DEPS, SCHEMA } from "../../../src/api/gen/schema.ts";
import { lazyRoot } from "../../../src/lib/lazy-root.ts";

const codec = createCodec({ messages: MESSAGES, enums: ENUMS });
const root = lazyRoot(SCHEMA, DEPS);

// --- protobufjs as src/api/schema.ts used it (the reference) ---
const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };
const EXACT_OPTIONS: protobuf.IConversionOptions = { ...OBJECT_OPTIONS, longs: String };
const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);
function hasLongs(t: protobuf.Type, seen = new Set<protobuf.Type>()): boolean {
  if (seen.has(t)) return false;
  seen.add(t);
  return t.fieldsArray.some((f) => {
    const rt = f.resolve().resolvedType;
    return LONG_TYPES.has(f.type) || (rt instanceof protobuf.Type && hasLongs(rt, seen));
  });
}
function numbersWhereExact(t: protobuf.Type, obj: Record<string, unknown>): void {
  for (const f of t.fieldsArray) {
    const v = obj[f.name];
    if (v === null || v === undefined) continue;
    const one = (x: unknown): unknown => {
      if (LONG_TYPES.has(f.type) && typeof x === "string") return Number.isSafeInteger(Number(x)) ? Number(x) : x;
      if (f.resolvedType instanceof protobuf.Type && typeof x === "object" && x !== null && hasLongs(f.resolvedType))
        numbersWhereExact(f.resolvedType, x as Record<string, unknown>);
      return x;
    };
    obj[f.name] = Array.isArray(v) ? v.map(one) : one(v);
  }
}
const refEncode = (name: string, v: object) => {
  const t = root.lookupType(name);
  return t.encode(t.fromObject(v as Record<string, unknown>)).finish();
};
const refDecode = (name: string, bytes: Uint8Array) => {
  const t = root.lookupType(name);
  if (!hasLongs(t)) return t.toObject(t.decode(bytes), OBJECT_OPTIONS);
  const obj = t.toObject(t.decode(bytes), EXACT_OPTIONS);
  numbersWhereExact(t, obj);
  return obj;
};

// --- random values ---
let seed = 0x5eed;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const SCALARS: Record<string, () => unknown> = {
  string: () => pick(["", "a", "node-1", "ü日本", "x".repeat(200)]),
  bytes: () => pick([new Uint8Array(0), new Uint8Array([1, 2, 3]), Buffer.from("hello"), new Uint8Array(300).fill(7)]),
  bool: () => pick([true, false]),
  int32: () => pick([0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31), 300]),
  sint32: () => pick([0, 1, -1, -64, 2 ** 31 - 1]),
  sfixed32: () => pick([0, -5, 7]),
  uint32: () => pick([0, 1, 2 ** 32 - 1, 16384]),
  fixed32: () => pick([0, 1, 2 ** 32 - 1]),
  double: () => pick([0, 1.5, -2.25, 1e300, -0]),
  float: () => pick([0, 1.5, -2.25]),
  int64: () => pick([0, 1, -1, 2 ** 40, "9223372036854775807", "-42", Number.MAX_SAFE_INTEGER]),
  sint64: () => pick([0, -1, 2 ** 40, "-9223372036854775808"]),
  sfixed64: () => pick([0, -1, 2 ** 40]),
  uint64: () => pick([0, 1, 2 ** 53 - 1, "18446744073709551615", "12345678901234567890", 7]),
  fixed64: () => pick([0, 1, "18446744073709551615"]),
};
function randomValue(type: string, depth: number): unknown {
  const s = SCALARS[type];
  if (s) return s();
  const e = ENUMS[type];
  if (e) {
    const names = Object.keys(e);
    return pick([...names, ...names, e[names[0]!]!, 99, "NOT_A_NAME"]);
  }
  return randomMessage(type, depth + 1);
}
function randomMessage(name: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 3) return out;
  for (const [field, , type, repeated] of MESSAGES[name]!) {
    if (rnd() < 0.35) continue;
    if (repeated) out[field] = Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(type, depth));
    else out[field] = rnd() < 0.1 ? null : randomValue(type, depth);
  }
  return out;
}

/** Deep equality with key order, Buffer-vs-Uint8Array and number-vs-string distinguished. */
function shape(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { Buffer: [...v] };
  if (v instanceof Uint8Array) return { Uint8Array: [...v] };
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  return typeof v === "number" ? { n: Object.is(v, -0) ? "-0" : v } : v;
}

const names = Object.keys(MESSAGES);

describe("own codec = protobufjs", () => {
  test("the schema has messages to compare (sanity)", () => {
    expect(names.length).toBeGreaterThan(150);
  });

  test("every message type: same bytes from the same objects, same objects from the same bytes", () => {
    let compared = 0;
    for (const name of names) {
      for (let i = 0; i < 25; i++) {
        const v = i === 0 ? {} : randomMessage(name, 0);
        const ours = codec.encode(name, v);
        const ref = refEncode(name, v);
        if (Buffer.compare(Buffer.from(ours), Buffer.from(ref)) !== 0) throw new Error(`${name}: encodings differ for ${JSON.stringify(v)}`);
        if (Buffer.isBuffer(ours) !== Buffer.isBuffer(ref))
          throw new Error(`${name}: encode gives a ${ours.constructor.name}, protobufjs a ${ref.constructor.name}`);
        for (const input of [ref, Buffer.from(ref)]) {
          const a = shape(codec.decode(name, input));
          const b = shape(refDecode(name, input));
          if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${name}: decodings differ\n ours ${JSON.stringify(a)}\n  ref ${JSON.stringify(b)}`);
        }
        compared++;
      }
    }
    expect(compared).toBe(names.length * 25);
  });

  test("unpacked repeated scalars and unknown fields decode as protobufjs decodes them", () => {
    // ListRequest.types (4, enum) unpacked: tag 0x20 per value; field 15 (unknown, varint) and 16 (unknown, bytes).
    const bytes = new Uint8Array([0x20, 0x01, 0x20, 0x07, 0x78, 0x05, 0x82, 0x01, 0x02, 0xaa, 0xbb, 0x0a, 0x01, 0x2f]);
    expect(shape(codec.decode("machine.ListRequest", bytes))).toEqual(shape(refDecode("machine.ListRequest", bytes)));
    expect(codec.decode<{ types: unknown[]; root: string }>("machine.ListRequest", bytes)).toMatchObject({ root: "/", types: ["DIRECTORY", 7] });
  });

  test("wrong kinds of values throw protobufjs's TypeErrors", () => {
    for (const [name, v] of [
      ["machine.ApplyConfigurationRequest", { try_mode_timeout: 5 }],
      ["machine.ListRequest", { types: "REGULAR" }],
      ["machine.ServiceListResponse", { messages: [1] }],
    ] as const) {
      const refErr = (() => {
        try {
          refEncode(name, v);
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(refErr).toBeDefined();
      expect(() => codec.encode(name, v)).toThrow(refErr!);
    }
  });

  test("truncated input is an error, not a partial message", () => {
    const full = codec.encode("machine.VersionInfo", { tag: "v1.2.3", sha: "abc" });
    expect(() => codec.decode("machine.VersionInfo", full.subarray(0, full.length - 1))).toThrow();
    expect(() => refDecode("machine.VersionInfo", full.subarray(0, full.length - 1))).toThrow();
  });
});
