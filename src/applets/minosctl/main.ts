// minosctl applet: the talosctl-like client of the machine API (also `minos ctl`).
//
//   minosctl [-e ENDPOINTS] [-n NODES] [--talosconfig FILE] [-o table|json|yaml] COMMAND [args]
//
// -e is where to connect (the context's endpoints by default, else the node's
// own socket; several are tried in order), -n which nodes the call is for
// (sent as gRPC metadata: the endpoint forwards and tags each reply). A
// host:port endpoint uses the context's CA and client certificate (mutual
// TLS). Failures print one line and exit non-zero.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags, UsageError } from "../../lib/args.ts";
import { firstLine } from "../../lib/errors.ts";
import type { Io } from "../../lib/io.ts";
import type { MachineClient } from "../../api/client.ts";
import { version as packageVersion } from "../../../package.json";
import { GLOBAL_FLAGS, lastOf, listFlag, specOf, valueFlagSpellings, type Command, type CommandContext } from "./cli.ts";
import { NODE_COMMANDS } from "./commands.ts";
import { ETCD_COMMANDS } from "./etcd.ts";
import { CONTAINER_COMMANDS } from "./container-commands.ts";
import { currentContext, defaultConfigPath, loadConfig, tlsOf } from "./config.ts";
import { outputFormat } from "./format.ts";
import { bashCompletion, commandHelp, fishCompletion, markdownDocs, usage, zshCompletion } from "./help.ts";
import { LOCAL_COMMANDS } from "./local.ts";
import { resolveTargets } from "./targets.ts";

/**
 * Deadline of each unary call: long enough for an ApplyConfiguration that
 * restarts services, short enough that a wedged node fails the command instead
 * of hanging it. Streams (logs -f, events, dmesg -f) have none: they run until
 * cancelled.
 */
export const UNARY_TIMEOUT_MS = 10_000;

const META_COMMANDS: Command[] = [
  {
    name: "help",
    args: "[COMMAND]",
    summary: "the general usage, or a command's arguments and flags",
    async run(ctx) {
      const name = ctx.positional.join(" ");
      if (!name) {
        ctx.io.stdout(usage(COMMANDS));
        return 0;
      }
      const c = findCommand(ctx.positional);
      if (!c) throw new UsageError(`unknown command "${name}"`);
      ctx.io.stdout(commandHelp(c.command));
      return 0;
    },
  },
  {
    name: "completion",
    args: "bash|zsh|fish",
    summary: "a shell completion script (bash: source <(minosctl completion bash))",
    async run(ctx) {
      const shell = ctx.positional[0];
      const script =
        shell === "bash" ? bashCompletion(COMMANDS) : shell === "zsh" ? zshCompletion(COMMANDS) : shell === "fish" ? fishCompletion(COMMANDS) : undefined;
      if (script === undefined) throw new UsageError("completion: want bash, zsh or fish");
      ctx.io.stdout(script);
      return 0;
    },
  },
  {
    name: "docs",
    args: "DIR",
    summary: "write a markdown reference of every command into DIR",
    async run(ctx) {
      const dir = ctx.positional[0];
      if (dir === undefined) throw new UsageError("docs needs DIR");
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of markdownDocs(COMMANDS)) writeFileSync(join(dir, name), text);
      ctx.io.stdout(`wrote ${markdownDocs(COMMANDS).size} files to ${dir}\n`);
      return 0;
    },
  },
  {
    name: "dashboard",
    summary: "live full-screen view of the node (its own flags: minosctl dashboard --help)",
    async run() {
      throw new Error("dashboard is dispatched before parsing");
    },
  },
];

export const COMMANDS: Command[] = [...NODE_COMMANDS, ...CONTAINER_COMMANDS, ...ETCD_COMMANDS, ...LOCAL_COMMANDS, ...META_COMMANDS];

/** The command named by the first one, two or three positional words ("gen config", "etcd alarm list"), and how many words it took. */
function findCommand(words: readonly string[]): { command: Command; used: number } | undefined {
  const three = words.length >= 3 ? COMMANDS.find((c) => c.name === words.slice(0, 3).join(" ")) : undefined;
  if (three) return { command: three, used: 3 };
  const two = words.length >= 2 ? COMMANDS.find((c) => c.name === `${words[0]} ${words[1]}`) : undefined;
  if (two) return { command: two, used: 2 };
  const one = COMMANDS.find((c) => c.name === words[0]);
  return one ? { command: one, used: 1 } : undefined;
}

const GLOBAL_VALUE_FLAGS = valueFlagSpellings(GLOBAL_FLAGS);

/** Splits argv at the command's name: global flags may come before it (and after, parsed with the command's own). */
function splitCommand(argv: string[]): { before: string[]; words: string[]; after: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (!a.startsWith("-")) {
      // Up to three words may name the command ("etcd alarm list"); findCommand takes what it needs.
      const words = [a];
      for (let j = i + 1; j < argv.length && words.length < 3 && !argv[j]!.startsWith("-"); j++) words.push(argv[j]!);
      return { before: argv.slice(0, i), words, after: argv.slice(i + 1) };
    }
    if (GLOBAL_VALUE_FLAGS.has(a)) i++;
  }
  return { before: argv, words: [], after: [] };
}

/** A failure for stderr: gRPC status name and the server's details, or the local error's first line. */
export function describeError(e: unknown): string {
  const err = e as { name?: string; codeName?: string; details?: string } | null;
  // The server's details are kept whole: a refused config lists each problem on a line of its own.
  if (err?.name === "ApiError") return `${(err.codeName ?? "error").toLowerCase().replace(/_/g, " ")}: ${err.details ?? ""}`;
  if (err?.name === "InvalidArgumentError") return (e as Error).message;
  return firstLine(e);
}

function timeoutOf(v: unknown): number {
  if (v === undefined) return UNARY_TIMEOUT_MS;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0) throw new UsageError(`--timeout: want a positive number of seconds, got "${String(v)}"`);
  return Math.round(s * 1000);
}

const isConnectFailure = (e: unknown) => (e as { name?: string; code?: number } | null)?.name === "ApiError" && (e as { code: number }).code === 14; // UNAVAILABLE

export async function main(argv: string[], io: Io): Promise<number> {
  let cleanup: (() => void) | undefined;
  let client: MachineClient | undefined;
  try {
    const { before, words, after: rest } = splitCommand(argv);
    const globalSpec = specOf(GLOBAL_FLAGS);
    const global = parseFlags(before, globalSpec);
    if (global.flags.version) {
      io.stdout(`minosctl version v${packageVersion}\n`);
      return 0;
    }
    if (words.length === 0) {
      if (global.flags.help) {
        io.stdout(usage(COMMANDS));
        return 0;
      }
      throw new UsageError("missing command");
    }
    const found = findCommand(words);
    if (!found) {
      // A group (gen, config, patch) without a known subcommand: list its subcommands.
      const group = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `));
      if (group.length === 0) throw new UsageError(`unknown command "${words[0]}"`);
      const list = group.map((c) => `  ${c.name.padEnd(25)}${c.summary}`).join("\n");
      if (rest.includes("--help") || rest.includes("-h")) {
        io.stdout(`usage: minosctl ${words[0]} COMMAND [flags]\n\n${list}\n`);
        return 0;
      }
      throw new UsageError(`${words[0]}: want one of:\n${list}`);
    }
    const cmd = found.command;
    const after = rest.slice(found.used - 1);

    if (cmd.name === "dashboard") return await dashboard(global.flags, after, io, (f) => (cleanup = f));

    // A command's own -o (gen secrets --output-file) wins over the global -o after the command name.
    const own = new Set((cmd.flags ?? []).flatMap((f) => [f.name, ...(f.short ? [f.short] : [])]));
    const spec = specOf([...(cmd.flags ?? []), ...GLOBAL_FLAGS.filter((g) => !own.has(g.name) && !(g.short && own.has(g.short)))]);
    const parsed = parseFlags(after, spec);
    const flags: Record<string, unknown> = { ...global.flags, ...Object.fromEntries(Object.entries(parsed.flags).filter(([, v]) => v !== undefined)) };
    if (flags.help) {
      io.stdout(commandHelp(cmd));
      return 0;
    }
    if (flags.version && !own.has("version")) {
      io.stdout(`minosctl version v${packageVersion}\n`);
      return 0;
    }

    const named = lastOf(flags.talosconfig) ?? lastOf(flags.minosconfig);
    const { path: configPath, explicit } = named !== undefined ? { path: String(named), explicit: true } : defaultConfigPath(io.env);
    const contextName = flags.context === undefined ? undefined : String(lastOf(flags.context));
    let targets: ReturnType<typeof resolveTargets> | undefined;
    let tls: ReturnType<typeof tlsOf>;
    const resolve = () => {
      if (!targets) {
        const context = currentContext(loadConfig(configPath, explicit), contextName, configPath);
        targets = resolveTargets(listFlag(flags.endpoints), listFlag(flags.nodes), context);
        tls = tlsOf(context);
      }
      return targets;
    };
    const nodeFlags = listFlag(flags.nodes);
    let endpointIndex = 0;
    const timeoutMs = timeoutOf(lastOf(flags.timeout));
    const { connect } = await import("../../api/client.ts");
    let failures = 0;
    let printed = false;
    const out: Io = {
      ...io,
      env: io.env,
      isTTY: io.isTTY,
      stdout(text) {
        printed = true;
        io.stdout(text);
      },
    };
    const ctx: CommandContext = {
      io: out,
      positional: parsed.positional,
      flags,
      output: outputFormat(lastOf(flags.output)),
      clientVersion: packageVersion,
      configPath,
      configExplicit: explicit,
      get nodes() {
        return targets?.nodes ?? nodeFlags;
      },
      client() {
        const t = resolve();
        if (!client) client = connect({ endpoint: t.endpoints[endpointIndex]!, tls, timeoutMs, metadata: t.metadata, insecure: flags.insecure === true });
        return client;
      },
      failed(node, error) {
        failures++;
        io.stderr(`minosctl: ${node || "node"}: ${error}\n`);
      },
    };
    for (;;) {
      try {
        const code = await cmd.run(ctx);
        return failures > 0 && code === 0 ? 1 : code;
      } catch (e) {
        // The next endpoint, when this one could not be reached and nothing was printed yet.
        const t = targets;
        if (!t || !isConnectFailure(e) || endpointIndex + 1 >= t.endpoints.length || printed) throw e;
        io.stderr(`minosctl: ${describeError(e)}; trying ${t.endpoints[endpointIndex + 1]}\n`);
        client?.close();
        client = undefined;
        endpointIndex++;
      }
    }
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

/** The dashboard takes certificate files: hand it the context's material in a private temp dir. */
async function dashboard(flags: Record<string, unknown>, after: string[], io: Io, setCleanup: (f: () => void) => void): Promise<number> {
  const named = lastOf(flags.talosconfig) ?? lastOf(flags.minosconfig);
  const { path, explicit } = named !== undefined ? { path: String(named), explicit: true } : defaultConfigPath(io.env);
  const context = currentContext(loadConfig(path, explicit), flags.context === undefined ? undefined : String(lastOf(flags.context)), path);
  const targets = resolveTargets(listFlag(flags.endpoints), listFlag(flags.nodes), context);
  if (targets.nodes.length > 0) throw new UsageError("dashboard shows the endpoint itself: pass the node as -e");
  const endpoint = targets.endpoints[0]!;
  const tls = tlsOf(context);
  const args = ["--endpoint", endpoint];
  if (tls && !endpoint.startsWith("unix:")) {
    const dir = mkdtempSync(join(tmpdir(), "minosctl-"));
    setCleanup(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, pem] of [
      ["ca", tls.ca],
      ["crt", tls.cert],
      ["key", tls.key],
    ] as const) {
      writeFileSync(join(dir, name), pem, { mode: 0o600 });
      args.push(`--${name}`, join(dir, name));
    }
  }
  const { main: run } = await import("../dashboard/main.ts");
  return await run([...args, ...after], io);
}
