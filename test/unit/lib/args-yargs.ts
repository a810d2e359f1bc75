// The reference for src/lib/args.ts: the applets' flag parsing as it was on
// yargs-parser 22 (a devDependency now, as grpc-js is for the gRPC server).
// args.test.ts runs both on generated command lines and wants the same result.
import yargsParser from "yargs-parser/browser";

// goStyle is the one piece shared: it rewrites wrapperd's -flag=v before either parser sees it.
import { goStyle, UsageError, type FlagSpec, type Parsed } from "../../../src/lib/args.ts";

export function yargsParseFlags(argv: string[], spec: FlagSpec): Parsed {
  const names = new Set<string>([...(spec.boolean ?? []), ...(spec.string ?? [])]);
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
    alias: spec.alias,
    configuration: { "camel-case-expansion": false, "dot-notation": false, "parse-numbers": false, "strip-aliased": false },
  });
  const positional = parsed._.map(String);
  const flags: Record<string, unknown> = { ...parsed };
  delete flags._;
  return { flags, positional, rest };
}
