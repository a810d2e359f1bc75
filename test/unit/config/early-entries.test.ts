// The lexer-stage bound on entries per block map or list (src/config/yaml.ts
// limitedTokens): a map far over the limit is refused while it is being read,
// and lines at a collection's indent that are not its entries (a compact
// list's items, explicit keys' values) never make a valid config look too big.
import { describe, expect, test } from "bun:test";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { CONFIG_LIMITS, parseYamlDocuments } from "../../../src/config/yaml.ts";

const lines = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join("\n");

describe("entries counted while lexing", () => {
  test("a 40,000-key map is refused before the parser builds it, naming where it starts", () => {
    const text = `version: v1alpha1\nmachine:\n  kubelet:\n    extraArgs:\n${lines(40_000, (i) => `      flag-${i}: "${i}"`)}\n`;
    const t0 = performance.now();
    expect(() => parseConfigDocuments(text)).toThrow("config: more than 10000 entries in one map or list at line 5, column 7 (the limit is 10000)");
    const early = performance.now() - t0;
    const ok = `version: v1alpha1\nmachine:\n  kubelet:\n    extraArgs:\n${lines(9_999, (i) => `      flag-${i}: "${i}"`)}\n`;
    const t1 = performance.now();
    parseYamlDocuments(ok);
    console.log(`[figure] 40,000-key map refused in ${early.toFixed(0)} ms; a 9,999-key one takes the YAML stage ${(performance.now() - t1).toFixed(0)} ms`);
  });

  test("10,001 to 10,002 entries still get the exact count from the syntax tree", () => {
    const text = (n: number) => `a:\n${lines(n, (i) => `  k${i}: 1`)}\n`;
    expect(() => parseYamlDocuments(text(10_001))).toThrow("config: 10001 entries in one map or list at line 2, column 3 (the limit is 10000)");
    expect(() => parseYamlDocuments(text(10_002))).toThrow("config: 10002 entries in one map or list at line 2, column 3 (the limit is 10000)");
  });

  test("a map of 10,000 keys with a compact 10,000-item list at the same indent is within the limits", () => {
    const text = `${lines(9_999, (i) => `k${i}: 1`)}\nlist:\n${lines(10_000, (i) => `- ${i}`)}\n`;
    const [doc] = parseYamlDocuments(text);
    expect(doc!.errors).toEqual([]);
    expect((doc!.value as { list: unknown[] }).list.length).toBe(10_000);
  });

  test("10,000 explicit keys (`? k` then `: v` at the same indent) are 10,000 entries, not 20,000", () => {
    const text = `${lines(10_000, (i) => `? k${i}\n: ${i}`)}\n`;
    const [doc] = parseYamlDocuments(text);
    expect(doc!.errors).toEqual([]);
    expect(Object.keys(doc!.value as object).length).toBe(CONFIG_LIMITS.maxEntries);
  });

  test("entries of sibling maps at the same indent are counted per map", () => {
    const text = `a:\n${lines(9_000, (i) => `  k${i}: 1`)}\nb:\n${lines(9_000, (i) => `  k${i}: 1`)}\n`;
    const [doc] = parseYamlDocuments(text);
    expect(doc!.errors).toEqual([]);
  });
});
