// Flag parsing shared by the applets: --flag=v, --flag v, --no-flag, short
// groups (-fn), Go-style -long-flag=v for wrapperd (as Talos passes them), and
// a strict check that rejects unknown flags.
//
// Our own ~150 lines instead of yargs-parser: its first parse costs ~0.9 ms of
// interpreter time (measured inside the compiled binary: `poweroff --help` spent
// 1.0 of its 5.4 ms in parse(), against 3.8 ms for `minos --help`), and every
// service start runs wrapperd's parse. The semantics are yargs-parser 22's for
// the spec this project uses (booleans, strings, aliases; no camel-case or dot
// expansion, no number coercion); test/unit/lib/args.test.ts compares the two
// on thousands of generated command lines for every applet's real spec.

export interface FlagSpec {
  boolean?: string[];
  string?: string[];
  alias?: Record<string, string[]>;
  /** Go-style single-dash long flags (-name=value) are accepted when true. */
  goStyle?: boolean;
}

export interface Parsed {
  flags: Record<string, unknown>;
  positional: string[];
  /** Everything after a literal `--`. */
  rest: string[];
}

export class UsageError extends Error {}

/** Rewrites Go-style `-long-flag=v` / `-long-flag` into `--long-flag…` for known long flags. */
export function goStyle(argv: string[], known: Set<string>): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const a of argv) {
    if (passthrough || a === "--") {
      passthrough = true;
      out.push(a);
      continue;
    }
    const m = /^-([a-zA-Z][\w-]+)(=.*)?$/.exec(a);
    out.push(m?.[1] && m[1].length > 1 && known.has(m[1]) ? `-${a}` : a);
  }
  return out;
}

/** --flag='v' is v (yargs strips one pair of matching quotes from an =value, and only there). */
function stripQuotes(v: string): string {
  return (v[0] === "'" || v[0] === '"') && v[v.length - 1] === v[0] ? v.substring(1, v.length - 1) : v;
}

/** A negative number is a value (or a positional word), never a flag. */
const NEGATIVE = /^-([0-9]+(\.[0-9]+)?|\.[0-9]+)$/;

/** The flags of one spec: types and alias groups (aliases are transitive, as in yargs). */
class Names {
  readonly all = new Set<string>();
  private readonly bools = new Set<string>();
  private readonly strings = new Set<string>();
  private readonly groups = new Map<string, string[]>();

  constructor(spec: FlagSpec) {
    for (const n of spec.boolean ?? []) this.bools.add(n);
    for (const n of spec.string ?? []) this.strings.add(n);
    for (const n of [...this.bools, ...this.strings]) this.all.add(n);
    for (const [name, aliases] of Object.entries(spec.alias ?? {})) {
      const merged = new Set<string>([...this.group(name), ...aliases.flatMap((a) => this.group(a))]);
      const g = [...merged];
      for (const n of g) {
        this.groups.set(n, g);
        this.all.add(n);
      }
    }
  }

  /** The name and its aliases, the name first. */
  group(name: string): string[] {
    const g = this.groups.get(name);
    return g ? [name, ...g.filter((n) => n !== name)] : [name];
  }

  isBool(name: string): boolean {
    return this.group(name).some((n) => this.bools.has(n));
  }

  isString(name: string): boolean {
    return this.group(name).some((n) => this.strings.has(n));
  }
}

/** Unknown flags are an error (yargs-parser alone would accept them). */
function checkKnown(head: string[], names: Names): void {
  for (const a of head) {
    const m = /^--?([^=]+)/.exec(a);
    if (!m || /^-\d/.test(a) || a === "-") continue;
    const raw = m[1]!;
    const known = a.startsWith("--") ? names.all.has(raw) || names.all.has(raw.replace(/^no-/, "")) : [...raw].every((c) => names.all.has(c)); // -fn is -f -n
    if (!known) throw new UsageError(`unknown flag ${a.split("=")[0]}`);
  }
}

export function parseFlags(argv: string[], spec: FlagSpec): Parsed {
  const names = new Names(spec);
  const input = spec.goStyle ? goStyle(argv, names.all) : argv;
  const dashdash = input.indexOf("--");
  const head = dashdash < 0 ? input : input.slice(0, dashdash);
  const rest = dashdash < 0 ? [] : input.slice(dashdash + 1);
  checkKnown(head, names);

  const flags: Record<string, unknown> = {};
  const positional: string[] = [];
  /** A boolean's text value is true only when it is "true" (--flag=yes is false, as in yargs). */
  const valueFor = (key: string, v: string | boolean): string | boolean => (names.isBool(key) && typeof v === "string" ? v === "true" : v);
  /** Stores under the name and every alias; a repeated string flag collects an array, a repeated boolean keeps the last. */
  const set = (key: string, raw: string | boolean) => {
    const value = valueFor(key, raw);
    for (const n of names.group(key)) {
      const prev = flags[n];
      if (Array.isArray(prev)) flags[n] = [...prev, value];
      else if (prev !== undefined && !names.isBool(n)) flags[n] = [prev, value];
      else flags[n] = value;
    }
  };
  /** What a flag without `=value` is: "" for a string, true otherwise. */
  const bare = (key: string) => (names.isString(key) ? "" : true);
  /** Takes the next word as the flag's value where yargs would; returns how many words were taken. */
  const takeNext = (key: string, next: string | undefined, flagLike: RegExp): number => {
    if (next !== undefined && (!flagLike.test(next) || NEGATIVE.test(next)) && !names.isBool(key)) {
      set(key, next);
      return 1;
    }
    if (next !== undefined && /^(true|false)$/.test(next)) {
      set(key, next);
      return 1;
    }
    set(key, bare(key));
    return 0;
  };

  for (let i = 0; i < head.length; i++) {
    const arg = head[i]!;
    const next = head[i + 1];
    let m: RegExpExecArray | null;
    if ((m = /^--([^=]+)=([\s\S]*)$/.exec(arg))) {
      set(m[1]!, stripQuotes(m[2]!));
    } else if ((m = /^--no-(.+)/.exec(arg))) {
      set(m[1]!, false);
    } else if ((m = /^--(.+)/.exec(arg))) {
      i += takeNext(m[1]!, next, /^-/);
    } else if (/^-[^-]+/.test(arg) && !NEGATIVE.test(arg)) {
      i += shortGroup(arg, next, set, bare, takeNext);
    } else {
      positional.push(arg);
    }
  }
  return { flags, positional, rest };
}

/** -abc: a and b as flags, c may take the next word; -e=v and -n5 carry their value. Returns the words taken after arg. */
function shortGroup(
  arg: string,
  next: string | undefined,
  set: (key: string, v: string | boolean) => void,
  bare: (key: string) => string | boolean,
  takeNext: (key: string, next: string | undefined, flagLike: RegExp) => number,
): number {
  const letters = arg.slice(1, -1).split("");
  for (let j = 0; j < letters.length; j++) {
    const tail = arg.slice(j + 2);
    const letter = letters[j]!;
    const following = letters[j + 1];
    if (following === "=") {
      set(letter, arg.slice(j + 3));
      return 0;
    }
    if (tail === "-") {
      set(letter, tail);
      continue;
    }
    if (/[A-Za-z]/.test(letter) && /^-?\d+(\.\d*)?(e-?\d+)?$/.test(tail)) {
      set(letter, tail);
      return 0;
    }
    if (following && /\W/.test(following)) {
      set(letter, tail);
      return 0;
    }
    set(letter, bare(letter));
  }
  const last = arg.slice(-1);
  if (last === "-") return 0;
  return takeNext(last, next, /^(-|--)[^-]/);
}
