// Flag parsing shared by the applets: yargs-parser (it accepts --flag=v,
// --flag v and Go-style -flag=v) plus a strict check that rejects unknown flags,
// which yargs-parser alone would silently accept.
//
// The "browser" entry is the same parser without the Node glue: the default
// entry imports util, path and module and calls createRequire() at load, which
// cost ~3-5 ms of every applet's cold start (poweroff is started by the kernel
// on a power-button press). We use none of that glue (no config files, no env
// prefix, no path normalisation).
import yargsParser from "yargs-parser/browser";

export interface FlagSpec {
  boolean?: string[];
  string?: string[];
  number?: string[];
  array?: string[];
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
function goStyle(argv: string[], known: Set<string>): string[] {
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

export function parseFlags(argv: string[], spec: FlagSpec): Parsed {
  const names = new Set<string>([...(spec.boolean ?? []), ...(spec.string ?? []), ...(spec.number ?? []), ...(spec.array ?? [])]);
  for (const [, aliases] of Object.entries(spec.alias ?? {})) aliases.forEach((a) => names.add(a));
  const input = spec.goStyle ? goStyle(argv, names) : argv;
  const dashdash = input.indexOf("--");
  const head = dashdash < 0 ? input : input.slice(0, dashdash);
  const rest = dashdash < 0 ? [] : input.slice(dashdash + 1);
  for (const a of head) {
    const m = /^--?([^=]+)/.exec(a);
    if (!m || /^-\d/.test(a) || a === "-") continue;
    const raw = m[1]!;
    const known = a.startsWith("--") ? names.has(raw) || names.has(raw.replace(/^no-/, "")) : [...raw].every((c) => names.has(c)); // -fn is -f -n
    if (!known) throw new UsageError(`unknown flag ${a.split("=")[0]}`);
  }
  const parsed = yargsParser(head, {
    boolean: spec.boolean,
    string: spec.string,
    number: spec.number,
    array: spec.array,
    alias: spec.alias,
    configuration: { "camel-case-expansion": false, "dot-notation": false, "parse-numbers": false, "strip-aliased": false },
  });
  const positional = parsed._.map(String);
  const flags: Record<string, unknown> = { ...parsed };
  delete flags._;
  return { flags, positional, rest };
}
