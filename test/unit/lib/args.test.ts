// src/lib/args.ts against yargs-parser 22 (args-yargs.ts, the parsing the
// applets had before): for every applet's real flag spec, thousands of
// generated command lines — long and short flags, groups, =values, negations,
// values that look like flags or numbers, Go-style flags, `--` — must give the
// same flags, positional words and rest, or the same UsageError.
import { describe, expect, test } from "bun:test";
import { parseFlags, UsageError, type FlagSpec } from "../../../src/lib/args.ts";
import { DASHBOARD_FLAGS } from "../../../src/applets/dashboard/main.ts";
import { GLOBAL_FLAGS, specOf } from "../../../src/applets/minosctl/cli.ts";
import { COMMANDS } from "../../../src/applets/minosctl/main.ts";
import { POWEROFF_FLAGS, SHUTDOWN_FLAGS } from "../../../src/applets/power/request.ts";
import { WRAPPERD_FLAGS } from "../../../src/applets/wrapperd/flags.ts";
import { yargsParseFlags } from "./args-yargs.ts";

type Outcome = { ok: ReturnType<typeof parseFlags> } | { usage: string };

function outcome(parse: () => ReturnType<typeof parseFlags>): Outcome {
  try {
    return { ok: parse() };
  } catch (e) {
    if (e instanceof UsageError) return { usage: e.message };
    throw e;
  }
}

/** A small deterministic PRNG (mulberry32): failures print the seed's command line. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES = [
  "x",
  "a b",
  "",
  "true",
  "false",
  "-5",
  "-1.5",
  "5",
  "-",
  "--",
  "-x",
  "--y",
  "'q'",
  '"q"',
  "=",
  "a=b",
  "yes",
  "0",
  "a\nb",
  "-x\ny",
  "-.5",
  "1.5e3",
  "é😀",
];

function generate(spec: FlagSpec, next: () => number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const longs = [...(spec.boolean ?? []), ...(spec.string ?? []), ...Object.keys(spec.alias ?? {})].filter((n) => n.length > 1);
  const shorts = [...(spec.boolean ?? []), ...(spec.string ?? []), ...Object.values(spec.alias ?? {}).flat()].filter((n) => n.length === 1);
  const words: string[] = [];
  const n = Math.floor(next() * 6);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.25 && longs.length) words.push(`--${pick(longs)}`);
    else if (r < 0.4 && longs.length) words.push(`--${pick(longs)}=${pick(VALUES)}`);
    else if (r < 0.47 && longs.length) words.push(`--no-${pick(longs)}`);
    else if (r < 0.52 && longs.length && spec.goStyle) words.push(`-${pick(longs)}${next() < 0.5 ? `=${pick(VALUES)}` : ""}`);
    else if (r < 0.64 && shorts.length) words.push(`-${pick(shorts)}`);
    else if (r < 0.7 && shorts.length) words.push(`-${pick(shorts)}${pick(shorts)}${next() < 0.3 ? pick(shorts) : ""}`);
    else if (r < 0.74 && shorts.length) words.push(`-${pick(shorts)}${pick(["=v", "5", "-", "=", "x"])}`);
    else if (r < 0.78) words.push(pick(["--unknown", "-Z", "--=x", "-"]));
    else words.push(pick(VALUES));
  }
  return words;
}

const SPECS: [string, FlagSpec][] = [
  ["poweroff", POWEROFF_FLAGS],
  ["shutdown", SHUTDOWN_FLAGS],
  ["wrapperd", WRAPPERD_FLAGS],
  ["dashboard", DASHBOARD_FLAGS],
  ["minosctl (global)", specOf(GLOBAL_FLAGS)],
  ...COMMANDS.filter((c) => (c.flags ?? []).length > 0).map((c): [string, FlagSpec] => [`minosctl ${c.name}`, specOf([...(c.flags ?? []), ...GLOBAL_FLAGS])]),
];

describe("parseFlags matches yargs-parser 22 on the applets' specs", () => {
  for (const [name, spec] of SPECS) {
    test(name, () => {
      const next = rng(name.length * 7919 + 17);
      for (let i = 0; i < 1500; i++) {
        const argv = generate(spec, next);
        const ours = outcome(() => parseFlags(argv, spec));
        const theirs = outcome(() => yargsParseFlags(argv, spec));
        if (!Bun.deepEquals(ours, theirs)) expect({ argv, ours }).toEqual({ argv, ours: theirs });
      }
    });
  }
});

describe("parseFlags, named cases", () => {
  const spec: FlagSpec = { boolean: ["force", "wall", "help"], string: ["name", "env"], alias: { force: ["f"], name: ["N"], help: ["h"] } };
  test("values, repeats, aliases, negation and the rest after --", () => {
    const p = parseFlags(["--name", "a", "-f", "--env=X=1", "--env", "Y=2", "word", "--no-wall", "--", "-x", "--name"], spec);
    expect(p.flags).toEqual({ name: "a", N: "a", force: true, f: true, env: ["X=1", "Y=2"], wall: false });
    expect(p.positional).toEqual(["word"]);
    expect(p.rest).toEqual(["-x", "--name"]);
  });
  test("a boolean takes only true/false as the next word; a string takes a negative number", () => {
    expect(parseFlags(["--force", "false", "x"], spec).flags.force).toBe(false);
    expect(parseFlags(["--force", "x"], spec).positional).toEqual(["x"]);
    expect(parseFlags(["--name", "-5"], spec).flags.name).toBe("-5");
    expect(parseFlags(["--name", "--force"], spec).flags).toEqual({ name: "", N: "", force: true, f: true });
  });
  test("unknown flags are refused, in long and short form and inside a group", () => {
    expect(() => parseFlags(["--nope"], spec)).toThrow("unknown flag --nope");
    expect(() => parseFlags(["-fz"], spec)).toThrow("unknown flag -fz");
    expect(() => parseFlags(["--nope=1"], spec)).toThrow("unknown flag --nope");
  });
  test("Go-style long flags with one dash (wrapperd)", () => {
    const p = parseFlags(["-name=svc", "-clear-env", "--", "/bin/x"], { string: ["name"], boolean: ["clear-env"], goStyle: true });
    expect(p.flags).toEqual({ name: "svc", "clear-env": true });
    expect(p.rest).toEqual(["/bin/x"]);
  });
});
