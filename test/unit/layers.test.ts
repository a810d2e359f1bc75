// The layering of src/ (scripts/layers.ts): sys imports nothing of ours, node
// only sys, lib only sys and node, nothing imports main, and no import cycles.
import { describe, expect, test } from "bun:test";
import { cycles, graphOf, importsOf, upwardImports, type Graph } from "../../scripts/layers.ts";

describe("layers of src/", () => {
  const g = graphOf("src");

  test("the scanner sees the tree (value, type-only, re-export and dynamic imports)", () => {
    expect(g.size).toBeGreaterThan(100);
    expect(importsOf("src/a/x.ts", 'import type { A } from "../b/y.ts";\nexport { C } from "./z.ts";\nconst m = await import("../c/w.ts");')).toEqual([
      "src/b/y.ts",
      "src/a/z.ts",
      "src/c/w.ts",
    ]);
  });

  test("no upward imports", () => {
    expect(upwardImports(g)).toEqual([]);
  });

  test("no import cycles", () => {
    expect(cycles(g)).toEqual([]);
  });

  test("the check fails on an upward import and on a cycle (type-only counts)", () => {
    const bad: Graph = new Map(g);
    bad.set("src/sys/evil.ts", ["src/init/main.ts"]);
    bad.set("src/node/evil.ts", ["src/lib/io.ts"]);
    bad.set("src/init/a.ts", importsOf("src/init/a.ts", 'import type { B } from "./b.ts";'));
    bad.set("src/init/b.ts", importsOf("src/init/b.ts", 'import { A } from "./a.ts";'));
    expect(upwardImports(bad)).toEqual(["src/sys/evil.ts -> src/init/main.ts", "src/node/evil.ts -> src/lib/io.ts"]);
    expect(cycles(bad)).toEqual([["src/init/a.ts", "src/init/b.ts"]]);
  });
});
