// dashboard applet: the live full-screen view of a node through the machine
// API. init runs it on tty2 with --console; people run it (or `minosctl
// dashboard`) against a node's socket or its TLS endpoint.
import type { Io } from "../../lib/io.ts";
import { parseFlags, UsageError, type FlagSpec } from "../../lib/args.ts";
import { noJitExec, reexec } from "./nojit.ts";

export const DEFAULT_ENDPOINT = "unix:/system/run/machined/machine.sock";

export const USAGE = `usage: dashboard [flags]
  -e, -n, --endpoint E   machine API: unix:/path or host:port
                         (default ${DEFAULT_ENDPOINT})
  --ca FILE --crt FILE --key FILE
                         client certificate for a host:port endpoint (mutual TLS)
  --interval MS          refresh period, 1000-2000 ms (default 1500)
  --console              run as init's console view: q and Ctrl-C do not exit
  -h, --help             this text

Keys: 1/2/3 or F1/F2/F3 switch screens (Summary, Monitor, Config); s sorts
processes by CPU or memory (c, m pick one); up/down/PgUp/PgDn/Home/End scroll
the config; q or Ctrl-C quits.
`;

export interface DashboardFlags {
  endpoint: string;
  ca?: string;
  crt?: string;
  key?: string;
  intervalMs: number;
  console: boolean;
  help: boolean;
}

export const DASHBOARD_FLAGS: FlagSpec = {
  boolean: ["console", "help"],
  string: ["endpoint", "ca", "crt", "key", "interval"],
  alias: { endpoint: ["e", "n"], help: ["h"] },
};

export function parseDashboardFlags(argv: string[]): DashboardFlags {
  const { flags, positional } = parseFlags(argv, DASHBOARD_FLAGS);
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const str = (name: string): string | undefined => {
    const v = flags[name];
    if (Array.isArray(v)) throw new UsageError(`--${name} given more than once`);
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const endpoint = str("endpoint") ?? DEFAULT_ENDPOINT;
  const intervalText = str("interval");
  const intervalMs = intervalText === undefined ? 1500 : Number(intervalText);
  if (!Number.isInteger(intervalMs) || intervalMs < 1000 || intervalMs > 2000)
    throw new UsageError(`--interval must be 1000-2000 (milliseconds), got "${intervalText}"`);
  const tls = { ca: str("ca"), crt: str("crt"), key: str("key") };
  const given = Object.values(tls).filter(Boolean).length;
  if (given !== 0 && given !== 3) throw new UsageError("--ca, --crt and --key go together");
  if (given === 3 && endpoint.startsWith("unix:")) throw new UsageError("--ca/--crt/--key are for a host:port endpoint, not a unix socket");
  return { endpoint, ...tls, intervalMs, console: flags.console === true, help: flags.help === true };
}

export async function main(argv: string[], io: Io): Promise<number> {
  let flags: DashboardFlags;
  try {
    flags = parseDashboardFlags(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`dashboard: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (!io.isTTY) {
    io.stderr("dashboard: stdout is not a terminal\n");
    return 1;
  }
  // In a compiled binary process.argv is ["bun", <entry>, ...args] and argv0 the invoked name (src/main.ts).
  const noJit = noJitExec(flags.console, io.env, process.execPath, process.argv0, process.argv.slice(2));
  if (noJit) await reexec(noJit);
  const [{ runDashboard }, { ttyTerminal }, { sourceFactory }] = await Promise.all([import("./app.ts"), import("./terminal.ts"), import("./connect.ts")]);
  const terminal = ttyTerminal(io.env);
  const stop = new AbortController();
  // SIGTERM (init stopping the service), SIGHUP (terminal gone) and SIGINT
  // from kill(1) all end the dashboard cleanly, with the screen restored.
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGHUP", "SIGINT"];
  const onSignal = () => stop.abort();
  for (const s of signals) process.on(s, onSignal);
  // Last resort: an exit from anywhere still gives the screen back.
  const restore = () => terminal.leave();
  process.on("exit", restore);
  try {
    return await runDashboard({
      terminal,
      connect: sourceFactory(flags),
      endpoint: flags.endpoint,
      intervalMs: flags.intervalMs,
      console: flags.console,
      colors: io.env.TERM !== "dumb" && io.env.NO_COLOR === undefined,
      signal: stop.signal,
    });
  } catch (e) {
    terminal.leave();
    io.stderr(`dashboard: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    return 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    process.off("exit", restore);
  }
}
