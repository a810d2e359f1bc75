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
//
// No regular expressions and no iterator-driven builtins (Set spread, flatMap,
// split("")) on this path: each regex compiles and each such builtin is
// compiled from JS on its first use, and a short-lived applet only ever has a
// first use. The regex version of this file spent 0.45 ms of `poweroff --help`
// (4.9 ms, against 3.8 ms for a Bun hello) in its one parse; the same parse
// with plain string scans takes a tenth of that.

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

/** A dash: flags start with one. */
const DASH = 45;

/** Where the first "=" at or after `from` is (the length when there is none). */
function equalsAt(a: string, from: number): number {
  const i = a.indexOf("=", from);
  return i < 0 ? a.length : i;
}

/** Where the first line terminator at or after `from` is (the length when there is none): where a regex `.` stops. */
function lineEnd(a: string, from: number): number {
  for (let i = from; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return i;
  }
  return a.length;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** A regex word character: [A-Za-z0-9_]. */
const isWord = (c: number) => isLetter(c) || isDigit(c) || c === 95;

/** Digits from `i`; returns where they end. */
function digitsFrom(a: string, i: number): number {
  while (i < a.length && isDigit(a.charCodeAt(i))) i++;
  return i;
}

/** A negative number is a value (or a positional word), never a flag: -5, -1.5, -.5. */
function isNegativeNumber(a: string): boolean {
  if (a.charCodeAt(0) !== DASH) return false;
  if (a.charCodeAt(1) === 46) {
    const end = digitsFrom(a, 2);
    return end > 2 && end === a.length;
  }
  const int = digitsFrom(a, 1);
  if (int === 1) return false;
  if (int === a.length) return true;
  if (a.charCodeAt(int) !== 46) return false;
  const frac = digitsFrom(a, int + 1);
  return frac > int + 1 && frac === a.length;
}

/** A number as a short group's tail: -?digits, then .digits* and e-?digits, each optional (-n5, -n1.5e3). */
function isNumberTail(t: string): boolean {
  let i = t.charCodeAt(0) === DASH ? 1 : 0;
  const int = digitsFrom(t, i);
  if (int === i) return false;
  i = int;
  if (t.charCodeAt(i) === 46) i = digitsFrom(t, i + 1);
  if (t.charCodeAt(i) === 101) {
    let j = i + 1;
    if (t.charCodeAt(j) === DASH) j++;
    const exp = digitsFrom(t, j);
    if (exp === j) return false;
    i = exp;
  }
  return i === t.length;
}

/** -x… with something other than a dash after it: a short flag or group (and, for a value, a word that looks like a flag). */
const isShortForm = (a: string) => a.length > 1 && a.charCodeAt(0) === DASH && a.charCodeAt(1) !== DASH;

/** Rewrites Go-style `-long-flag=v` / `-long-flag` into `--long-flag…` for known long flags. */
export function goStyle(argv: string[], known: Set<string>): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (passthrough || a === "--") {
      passthrough = true;
      out.push(a);
      continue;
    }
    const name = goStyleName(a);
    out.push(name !== undefined && known.has(name) ? `-${a}` : a);
  }
  return out;
}

/** The name of a Go-style flag: -, a letter, word characters or dashes, then nothing or "=" and a value on one line. */
function goStyleName(a: string): string | undefined {
  if (a.charCodeAt(0) !== DASH || !isLetter(a.charCodeAt(1))) return undefined;
  const eq = equalsAt(a, 1);
  if (eq < 3) return undefined;
  for (let i = 2; i < eq; i++) {
    const c = a.charCodeAt(i);
    if (!isWord(c) && c !== DASH) return undefined;
  }
  if (eq < a.length && lineEnd(a, eq) !== a.length) return undefined;
  return a.slice(1, eq);
}

/** --flag='v' is v (yargs strips one pair of matching quotes from an =value, and only there). */
function stripQuotes(v: string): string {
  return (v[0] === "'" || v[0] === '"') && v[v.length - 1] === v[0] ? v.substring(1, v.length - 1) : v;
}

/** The flags of one spec: types and alias groups (aliases are transitive, as in yargs). */
class Names {
  readonly all = new Set<string>();
  private readonly bools = new Set<string>();
  private readonly strings = new Set<string>();
  private readonly groups = new Map<string, string[]>();

  constructor(spec: FlagSpec) {
    const bools = spec.boolean ?? [];
    const strings = spec.string ?? [];
    for (let i = 0; i < bools.length; i++) this.bools.add(bools[i]!);
    for (let i = 0; i < strings.length; i++) this.strings.add(strings[i]!);
    for (let i = 0; i < bools.length; i++) this.all.add(bools[i]!);
    for (let i = 0; i < strings.length; i++) this.all.add(strings[i]!);
    const alias = spec.alias ?? {};
    const keys = Object.keys(alias);
    for (let k = 0; k < keys.length; k++) {
      const name = keys[k]!;
      // The name's group, then each alias's group, in order, each name once.
      const g: string[] = [];
      const add = (names: string[]) => {
        for (let i = 0; i < names.length; i++) if (g.indexOf(names[i]!) < 0) g.push(names[i]!);
      };
      add(this.group(name));
      const aliases = alias[name]!;
      for (let i = 0; i < aliases.length; i++) add(this.group(aliases[i]!));
      for (let i = 0; i < g.length; i++) {
        this.groups.set(g[i]!, g);
        this.all.add(g[i]!);
      }
    }
  }

  /** The name and its aliases, the name first. */
  group(name: string): string[] {
    const g = this.groups.get(name);
    if (!g) return [name];
    const out = [name];
    for (let i = 0; i < g.length; i++) if (g[i] !== name) out.push(g[i]!);
    return out;
  }

  private anyIn(name: string, set: Set<string>): boolean {
    const g = this.group(name);
    for (let i = 0; i < g.length; i++) if (set.has(g[i]!)) return true;
    return false;
  }

  isBool(name: string): boolean {
    return this.anyIn(name, this.bools);
  }

  isString(name: string): boolean {
    return this.anyIn(name, this.strings);
  }
}

/** The name part of a flag word as the strict check reads it (`--name`, `-abc`, either up to "="), or undefined for no flag. */
function checkedName(a: string): string | undefined {
  if (a.charCodeAt(0) !== DASH) return undefined;
  if (a.charCodeAt(1) === DASH) {
    const eq = equalsAt(a, 2);
    if (eq > 2) return a.slice(2, eq);
  }
  // A single dash, or "--=…" / "--" read as a dash and the name "-" (an unknown flag).
  const eq = equalsAt(a, 1);
  return eq > 1 ? a.slice(1, eq) : undefined;
}

/** Unknown flags are an error (yargs-parser alone would accept them). */
function checkKnown(head: string[], names: Names): void {
  for (let k = 0; k < head.length; k++) {
    const a = head[k]!;
    const raw = checkedName(a);
    if (raw === undefined || isDigit(a.charCodeAt(1)) || a === "-") continue;
    let known: boolean;
    if (a.charCodeAt(1) === DASH) known = names.all.has(raw) || names.all.has(raw.startsWith("no-") ? raw.slice(3) : raw);
    else {
      // -fn is -f -n: every character (code point) must be a flag.
      known = true;
      for (let i = 0; i < raw.length && known; ) {
        const cp = raw.codePointAt(i)!;
        const len = cp > 0xffff ? 2 : 1;
        known = names.all.has(raw.slice(i, i + len));
        i += len;
      }
    }
    if (!known) throw new UsageError(`unknown flag ${a.slice(0, equalsAt(a, 0))}`);
  }
}

/** Which words may be taken as a flag's value: after --name, anything but a dash word; after a short group, anything but -x or --x. */
type FlagLike = (next: string) => boolean;
const startsWithDash: FlagLike = (next) => next.charCodeAt(0) === DASH;
const shortOrLongForm: FlagLike = (next) => isShortForm(next) || (next.length > 2 && next.startsWith("--") && next.charCodeAt(2) !== DASH);

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
    const group = names.group(key);
    for (let i = 0; i < group.length; i++) {
      const n = group[i]!;
      const prev = flags[n];
      if (Array.isArray(prev)) {
        const next = prev.slice();
        next.push(value);
        flags[n] = next;
      } else if (prev !== undefined && !names.isBool(n)) flags[n] = [prev, value];
      else flags[n] = value;
    }
  };
  /** What a flag without `=value` is: "" for a string, true otherwise. */
  const bare = (key: string) => (names.isString(key) ? "" : true);
  /** Takes the next word as the flag's value where yargs would; returns how many words were taken. */
  const takeNext = (key: string, next: string | undefined, flagLike: FlagLike): number => {
    if (next !== undefined && (!flagLike(next) || isNegativeNumber(next)) && !names.isBool(key)) {
      set(key, next);
      return 1;
    }
    if (next === "true" || next === "false") {
      set(key, next);
      return 1;
    }
    set(key, bare(key));
    return 0;
  };

  for (let i = 0; i < head.length; i++) {
    const arg = head[i]!;
    const next = head[i + 1];
    if (arg.startsWith("--")) {
      const eq = equalsAt(arg, 2);
      if (eq > 2 && eq < arg.length) {
        set(arg.slice(2, eq), stripQuotes(arg.slice(eq + 1)));
        continue;
      }
      // --no-name and --name: the name runs to the end of the first line (a regex `.+`).
      const negated = arg.startsWith("--no-") ? lineEnd(arg, 5) : 5;
      if (negated > 5) {
        set(arg.slice(5, negated), false);
        continue;
      }
      const end = lineEnd(arg, 2);
      if (end > 2) {
        i += takeNext(arg.slice(2, end), next, startsWithDash);
        continue;
      }
    } else if (isShortForm(arg) && !isNegativeNumber(arg)) {
      i += shortGroup(arg, next, set, bare, takeNext);
      continue;
    }
    positional.push(arg);
  }
  return { flags, positional, rest };
}

/** -abc: a and b as flags, c may take the next word; -e=v and -n5 carry their value. Returns the words taken after arg. */
function shortGroup(
  arg: string,
  next: string | undefined,
  set: (key: string, v: string | boolean) => void,
  bare: (key: string) => string | boolean,
  takeNext: (key: string, next: string | undefined, flagLike: FlagLike) => number,
): number {
  // The letters are the code units between the dash and the last one.
  const count = arg.length - 2;
  for (let j = 0; j < count; j++) {
    const tail = arg.slice(j + 2);
    const letter = arg[j + 1]!;
    const following = j + 1 < count ? arg[j + 2] : undefined;
    if (following === "=") {
      set(letter, arg.slice(j + 3));
      return 0;
    }
    if (tail === "-") {
      set(letter, tail);
      continue;
    }
    if (isLetter(letter.charCodeAt(0)) && isNumberTail(tail)) {
      set(letter, tail);
      return 0;
    }
    if (following !== undefined && !isWord(following.charCodeAt(0))) {
      set(letter, tail);
      return 0;
    }
    set(letter, bare(letter));
  }
  const last = arg.slice(-1);
  if (last === "-") return 0;
  return takeNext(last, next, shortOrLongForm);
}
