// The tape a validated config crosses threads on (src/config/transfer.ts):
// whatever the slice size, the value comes back equal, with each map's
// prototype (null for free-form maps) as it was, and no key reaching
// Object.prototype.
import { describe, expect, test } from "bun:test";
import { stringify } from "yaml";
import { sliceCount, sliceOf, TapeDecoder, toTape } from "../../../src/config/transfer.ts";
import { validateConfig } from "../../../src/config/validate.ts";

function roundTrip(value: unknown, size: number): unknown {
  const tape = toTape(value);
  const d = new TapeDecoder();
  for (let i = 0; i < sliceCount(tape, size); i++) {
    expect(d.done).toBe(false);
    // Through structuredClone, as postMessage would carry it.
    d.push(structuredClone(sliceOf(tape, i, size)));
  }
  return d.value();
}

const dict = (o: Record<string, unknown>) => Object.assign(Object.create(null) as Record<string, unknown>, o);

describe("config transfer", () => {
  const value = {
    s: "text",
    n: 1.5,
    b: false,
    z: null,
    u: undefined,
    empty: {},
    emptyList: [],
    emptyDict: dict({}),
    list: [1, [2, [3, []]], { a: [] }, "x"],
    dict: dict({ "net.ipv4.ip_forward": "1", nested: dict({ k: ["v"] }) }),
    deep: { a: { b: { c: { d: [{ e: "f" }] } } } },
  };

  for (const size of [1, 2, 3, 7, 2048]) {
    test(`a value with every kind of node comes back equal, sliced by ${size}`, () => {
      const back = roundTrip(value, size) as typeof value;
      expect(Bun.deepEquals(back, value, true)).toBe(true);
      expect(Object.getPrototypeOf(back.dict)).toBeNull();
      expect(Object.getPrototypeOf((back.dict as Record<string, unknown>).nested)).toBeNull();
      expect(Object.getPrototypeOf(back.deep)).toBe(Object.prototype);
      expect("u" in back).toBe(true);
    });
  }

  test("a scalar alone, and an empty top-level map, are values too", () => {
    expect(roundTrip("just text", 4)).toBe("just text");
    expect(roundTrip({}, 4)).toEqual({});
  });

  test("an own __proto__ key stays a key: neither the object's prototype nor Object.prototype changes", () => {
    const plain = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const back = roundTrip({ plain, d: dict(JSON.parse('{"__proto__": 2}')) }, 1) as { plain: Record<string, unknown>; d: Record<string, unknown> };
    expect(Object.getPrototypeOf(back.plain)).toBe(Object.prototype);
    expect(Object.hasOwn(back.plain, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(back.d, "__proto__")).toBe(true);
  });

  test("values the config parser never makes are refused rather than sent wrong", () => {
    expect(() => toTape({ when: new Date() })).toThrow(/Date/);
    expect(() => toTape({ m: new Map() })).toThrow(/Map/);
    expect(() => toTape({ f: () => 1 })).toThrow(/function/);
  });

  test("a decoder refuses a broken tape: a non-string key, tokens after the end", () => {
    const d = new TapeDecoder();
    expect(() => d.push({ kinds: Uint8Array.from([1, 0]), items: [1, 5] })).toThrow(/key/);
    const e = new TapeDecoder();
    e.push({ kinds: Uint8Array.from([0]), items: ["x"] });
    expect(() => e.push({ kinds: Uint8Array.from([0]), items: ["y"] })).toThrow(/after the end/);
  });

  test("a 30,000-entry config in 2,048-token slices equals the parser's own result", () => {
    const keys = (n: number, p: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${p}${i}`, String(i)]));
    const v = validateConfig(
      stringify({ version: "v1alpha1", machine: { kubelet: { extraArgs: keys(9_999, "f") }, sysctls: keys(9_999, "net.k"), env: keys(9_999, "E") } }),
    );
    const tape = toTape(v.config);
    expect(sliceCount(tape, 2048)).toBeGreaterThan(25);
    expect(Bun.deepEquals(roundTrip(v.config, 2048), v.config, true)).toBe(true);
  });
});
