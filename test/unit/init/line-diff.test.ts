// The dry run's diff of two config texts: removed and added lines, bounded.
import { expect, test } from "bun:test";
import { lineDiff } from "../../../src/init/backend/machine.ts";

test("lines removed then added; unchanged lines and moved duplicates are not listed", () => {
  expect(lineDiff("a\nb\nc\n", "a\nB\nc\nd\n")).toBe("- b\n+ B\n+ d");
  expect(lineDiff("x\nx\n", "x\n")).toBe("- x");
  expect(lineDiff("same\n", "same\n")).toBe("");
});

test("at most `max` lines, so a huge config gives a readable reply", () => {
  const a = Array.from({ length: 1000 }, (_, i) => `k${i}`).join("\n");
  expect(lineDiff(a, "", 200).split("\n")).toHaveLength(200);
});
