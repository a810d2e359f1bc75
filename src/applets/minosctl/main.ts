// minosctl applet: the talosctl-like client of the machine API (also `minos ctl`).
//
//   minosctl [-n ENDPOINT] [--minosconfig FILE] [-o table|json|yaml] COMMAND [args]
//
// The endpoint comes from -n, else the client config's current context, else
// the node's own socket. A host:port endpoint uses the context's CA and client
// certificate (mutual TLS). Failures print one line and exit non-zero.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags, UsageError, type FlagSpec } from "../../lib/args.ts";
import { firstLine } from "../../lib/errors.ts";
import type { Io } from "../../lib/io.ts";
import { version as packageVersion } from "../../../package.json";
import { COMMANDS, type CommandContext } from "./commands.ts";
import { currentContext, defaultConfigPath, loadConfig, LOCAL_ENDPOINT, tlsOf } from "./config.ts";
import { outputFormat } from "./format.ts";
import { GEN_USAGE, genMain } from "./gen.ts";

/**
 * Deadline of each unary call: long enough for an ApplyConfiguration that
 * restarts services, short enough that a wedged node fails the command instead
 * of hanging it. Streams (logs -f, events, dmesg -f) have none: they run until
 * cancelled.
 */
export const UNARY_TIMEOUT_MS = 10_000;

const GLOBAL_VALUE_FLAGS = new Set(["-n", "--nodes", "-e", "--endpoints", "--minosconfig", "--context", "-o", "--output", "--timeout"]);

export const USAGE = `usage: minosctl [-n ENDPOINT] [--minosconfig FILE] [--context NAME] [-o table|json|yaml] [--timeout S] COMMAND [args]

  -n, --nodes E       unix:/path (the node socket, full access) or host:port
                      (mutual TLS with the config's certificate; port 50000 by default)
  --minosconfig FILE  client config (default $MINOSCONFIG or ~/.minos/config)
  --context NAME      context of the client config to use (default: its current one)
  -o, --output F      table (default), json or yaml
  -i, --insecure      maintenance mode: TLS without verifying the node, no client certificate
                      (a node in maintenance mode answers only apply-config, version, disks)
  --timeout S         deadline of each call in seconds (default ${UNARY_TIMEOUT_MS / 1000}; not for -f streams)

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join("\n")}
  dashboard [flags]             live full-screen view of the node
  gen ca | gen client ...       make a node CA or a client certificate (see: minosctl gen --help)
`;

const GLOBAL_SPEC: FlagSpec = {
  string: ["nodes", "minosconfig", "context", "output", "timeout"],
  boolean: ["help", "insecure"],
  alias: { nodes: ["n", "e", "endpoints"], output: ["o"], help: ["h"], insecure: ["i"] },
};

/** Splits argv at the command: global flags may come before it (and after, parsed with the command's own). */
function splitCommand(argv: string[]): { before: string[]; command?: string; after: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (!a.startsWith("-")) return { before: argv.slice(0, i), command: a, after: argv.slice(i + 1) };
    if (GLOBAL_VALUE_FLAGS.has(a)) i++;
  }
  return { before: argv, after: [] };
}

function merge(a: FlagSpec, b: FlagSpec = {}): FlagSpec {
  return {
    string: [...(a.string ?? []), ...(b.string ?? [])],
    boolean: [...(a.boolean ?? []), ...(b.boolean ?? [])],
    alias: { ...(a.alias ?? {}), ...(b.alias ?? {}) },
  };
}

const lastOf = (v: unknown): unknown => (Array.isArray(v) ? v.at(-1) : v);

/** A failure for stderr: gRPC status name and the server's details, or the local error's first line. */
export function describeError(e: unknown): string {
  const err = e as { name?: string; codeName?: string; details?: string } | null;
  // The server's details are kept whole: a refused config lists each problem on a line of its own.
  if (err?.name === "ApiError") return `${(err.codeName ?? "error").toLowerCase().replace(/_/g, " ")}: ${err.details ?? ""}`;
  return firstLine(e);
}

function timeoutOf(v: unknown): number {
  if (v === undefined) return UNARY_TIMEOUT_MS;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0) throw new UsageError(`--timeout: want a positive number of seconds, got "${String(v)}"`);
  return Math.round(s * 1000);
}

export async function main(argv: string[], io: Io): Promise<number> {
  let cleanup: (() => void) | undefined;
  let client: { close(): void } | undefined;
  try {
    const { before, command, after } = splitCommand(argv);
    const global = parseFlags(before, GLOBAL_SPEC);
    if (command === undefined) {
      if (global.flags.help) {
        io.stdout(USAGE);
        return 0;
      }
      throw new UsageError("missing command");
    }
    if (command === "help") {
      io.stdout(USAGE);
      return 0;
    }

    if (command === "gen") {
      const parsed = parseFlags(after, merge(GLOBAL_SPEC, { string: ["out", "role", "ca-crt", "ca-key", "from-config", "name", "endpoint", "config"] }));
      if (parsed.flags.help) {
        io.stdout(GEN_USAGE);
        return 0;
      }
      return genMain(parsed.positional, parsed.flags, io);
    }

    const cmd = COMMANDS[command];
    if (!cmd && command !== "dashboard") throw new UsageError(`unknown command "${command}"`);
    const parsed = command === "dashboard" ? { flags: {}, positional: [] as string[] } : parseFlags(after, merge(GLOBAL_SPEC, cmd!.flags));
    const flags = { ...global.flags, ...Object.fromEntries(Object.entries(parsed.flags).filter(([, v]) => v !== undefined)) };
    if (flags.help) {
      io.stdout(cmd ? `usage: minosctl ${cmd.usage}\n` : USAGE);
      return 0;
    }

    const configPath = String(lastOf(flags.minosconfig) ?? defaultConfigPath(io.env));
    const context = currentContext(loadConfig(configPath), flags.context === undefined ? undefined : String(lastOf(flags.context)), configPath);
    const endpoint = String(lastOf(flags.nodes) ?? context.endpoints?.[0] ?? LOCAL_ENDPOINT);
    const tls = tlsOf(context);

    if (command === "dashboard") {
      // The dashboard takes certificate files: hand it the context's material in a private temp dir.
      const args = ["--endpoint", endpoint];
      if (tls && !endpoint.startsWith("unix:")) {
        const dir = mkdtempSync(join(tmpdir(), "minosctl-"));
        cleanup = () => rmSync(dir, { recursive: true, force: true });
        for (const [name, pem] of [
          ["ca", tls.ca],
          ["crt", tls.cert],
          ["key", tls.key],
        ] as const) {
          writeFileSync(join(dir, name), pem, { mode: 0o600 });
          args.push(`--${name}`, join(dir, name));
        }
      }
      const { main: dashboard } = await import("../dashboard/main.ts");
      return await dashboard([...args, ...after], io);
    }

    const timeoutMs = timeoutOf(lastOf(flags.timeout));
    const { connect } = await import("../../api/client.ts");
    const ctx: CommandContext = {
      io,
      positional: parsed.positional,
      flags,
      output: outputFormat(lastOf(flags.output)),
      clientVersion: packageVersion,
      client() {
        if (!client) client = connect({ endpoint, tls, timeoutMs, insecure: flags.insecure === true });
        return client as ReturnType<typeof connect>;
      },
    };
    return await cmd!.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`minosctl: ${e.message}\n(run minosctl --help for usage)\n`);
      return 2;
    }
    io.stderr(`minosctl: ${describeError(e)}\n`);
    return 1;
  } finally {
    client?.close();
    cleanup?.();
  }
}
