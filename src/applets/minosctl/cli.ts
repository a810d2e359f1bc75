// minosctl's command model: each command names its arguments, a one-line
// summary and every flag with a description. Help, `minosctl docs`, shell
// completion and the flag parser all read the same table, so a flag cannot be
// accepted without being documented (or documented without being accepted).
import type { FlagSpec } from "../../lib/args.ts";
import type { Io } from "../../lib/io.ts";
import type { MachineClient } from "../../api/client.ts";
import type { OutputFormat } from "./format.ts";

export interface FlagDoc {
  /** Long name, without dashes. */
  name: string;
  /** One-letter alias. */
  short?: string;
  /** A boolean switch, or a flag that takes a value (named `value` in help). */
  value?: string;
  /** Accepted more than once (every value kept, in order). */
  repeat?: boolean;
  help: string;
}

export interface CommandContext {
  io: Io;
  positional: string[];
  flags: Record<string, unknown>;
  output: OutputFormat;
  /** The connection to the endpoint (opened on first use: commands that need no node never dial). */
  client(): MachineClient;
  /** The nodes the call is for (-n), as the endpoint tags their replies; empty = the endpoint itself. */
  nodes: readonly string[];
  /** The CLI's own version, for `version`'s Client section. */
  clientVersion: string;
  /** Where the client config is (for `config ...`), and whether a flag or $MINOSCONFIG named it. */
  configPath: string;
  configExplicit: boolean;
  /** Reports one node's failure (a forwarding endpoint answers it as a message with metadata.error); the command then exits 1. */
  failed(node: string, error: string): void;
}

export interface Command {
  /** As typed: "logs", or "gen config" for a subcommand. */
  name: string;
  /** Positional arguments in help syntax: "ID", "[PATH]". */
  args?: string;
  summary: string;
  /** More text for `minosctl help CMD` and the docs. */
  description?: string;
  flags?: FlagDoc[];
  run(ctx: CommandContext): Promise<number>;
}

/** Flags every command accepts (before or after the command name). */
export const GLOBAL_FLAGS: FlagDoc[] = [
  {
    name: "endpoints",
    short: "e",
    value: "LIST",
    repeat: true,
    help: "where to connect: host[:port] (mutual TLS, port 50000 by default) or unix:/path; several (comma-separated or repeated) are tried in order (default: the context's endpoints, else the node's own socket)",
  },
  {
    name: "nodes",
    short: "n",
    value: "LIST",
    repeat: true,
    help: "which nodes the call is for: the endpoint forwards to each (gRPC metadata node/nodes) and every reply names its node (default: the context's nodes, else the endpoint itself)",
  },
  {
    name: "talosconfig",
    value: "FILE",
    help: "client config in talosconfig's format (default $MINOSCONFIG, $TALOSCONFIG or ~/.minos/config); a file named here must exist",
  },
  { name: "minosconfig", value: "FILE", help: "the same as --talosconfig" },
  { name: "context", value: "NAME", help: "context of the client config to use (default: its current one)" },
  { name: "output", short: "o", value: "FORMAT", help: "table (default), json or yaml" },
  {
    name: "insecure",
    short: "i",
    help: "maintenance mode: TLS without verifying the node, no client certificate (such a node answers only apply-config, version, disks)",
  },
  { name: "timeout", value: "SECONDS", help: "deadline of each call in seconds (default 10; not for -f streams)" },
  { name: "help", short: "h", help: "describe the command and its flags" },
  { name: "version", help: "print minosctl's version and exit" },
];

/** The parser spec of a list of flags. */
export function specOf(flags: readonly FlagDoc[]): FlagSpec {
  const spec: Required<Pick<FlagSpec, "boolean" | "string" | "alias">> = { boolean: [], string: [], alias: {} };
  for (const f of flags) {
    (f.value === undefined ? spec.boolean : spec.string).push(f.name);
    if (f.short) spec.alias[f.name] = [f.short];
  }
  return spec;
}

/** Flags that take a value, spelled as on the command line (to find where the command name is). */
export function valueFlagSpellings(flags: readonly FlagDoc[]): Set<string> {
  const out = new Set<string>();
  for (const f of flags) {
    if (f.value === undefined) continue;
    out.add(`--${f.name}`);
    if (f.short) out.add(`-${f.short}`);
  }
  return out;
}

/** Every value of a repeatable list flag, each split at commas: `-n a,b -n c` is [a, b, c]. */
export function listFlag(v: unknown): string[] {
  if (v === undefined) return [];
  const all = Array.isArray(v) ? v : [v];
  return all
    .flatMap((x) => String(x).split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The last value of a flag given more than once (the parser keeps them all). */
export const lastOf = (v: unknown): unknown => (Array.isArray(v) ? v.at(-1) : v);

export function synopsis(c: Command): string {
  return `minosctl ${c.name}${c.args ? ` ${c.args}` : ""}${c.flags?.length ? " [flags]" : ""}`;
}

export function flagLines(flags: readonly FlagDoc[]): string[] {
  const left = flags.map((f) => `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.value ? ` ${f.value}` : ""}`);
  const width = Math.max(0, ...left.map((l) => l.length)) + 2;
  return flags.map((f, i) => `  ${left[i]!.padEnd(width)}${f.help}${f.repeat ? " (repeatable)" : ""}`);
}
