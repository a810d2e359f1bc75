// Carries out a parsed Request. Everything with an effect outside this process
// (the machine API, reboot(2), sync(2), /dev/kmsg, output) comes in as Deps, so
// unit tests run every path with fakes and never reach the real reboot(2).
import type { Io } from "../../lib/io.ts";
import type { Connect, PowerClient } from "./client.ts";
import { UnreachableError } from "./client.ts";
import { KMSG, kmsgLine } from "./kmsg.ts";
import { withTimeout } from "../../lib/timers.ts";
import type { Request } from "./request.ts";
import { POWER, type RebootCommand } from "../../node/power.ts";

export interface Deps {
  io: Io;
  /** The machine API socket (default /system/run/machined/machine.sock). */
  socketPath: string;
  connect: Connect;
  /** reboot(2) — on success it does not return (in a PID namespace the caller exits). */
  reboot(cmd: RebootCommand): Promise<void>;
  sync(): Promise<void>;
  /** Writes one record to /dev/kmsg (already formatted by kmsgLine). */
  kmsg(line: string): void;
  pid: number;
  /** How long to wait for init's answer before calling it unreachable. */
  timeoutMs: number;
}

/** "2025-11-27 14:05 +00:00": the node's local time, with its offset so nobody guesses the zone. */
export function formatTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())} ${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
}

/** The wall text of shutdown: what will happen, when, and why. */
export function announcement(req: Request): string {
  const reason = req.message ? `: ${req.message}` : "";
  if (req.cancel) return `The scheduled shutdown has been cancelled${reason}`;
  const when = req.when === "now" ? "now" : `at ${formatTime(req.when)}`;
  return `The system will ${POWER[req.action].verb} ${when}${reason}`;
}

/** What was asked, in words, for the log. */
function describe(req: Request): string {
  if (req.cancel) return "cancel of the scheduled shutdown";
  return req.when === "now" ? req.action : `${req.action} at ${formatTime(req.when)}`;
}

const unreachable = (text: string) => new UnreachableError(text);

export async function execute(req: Request, deps: Deps): Promise<number> {
  const { io } = deps;
  const tag = req.applet;
  // Without a terminal nobody reads stdout (the kernel gives usermode helpers
  // /dev/null); the kernel log is what remains.
  const log = (level: number, text: string) => {
    if (!io.isTTY) deps.kmsg(kmsgLine(level, tag, deps.pid, text));
  };
  const fail = (text: string): number => {
    io.stderr(`${tag}: ${text}\n`);
    log(KMSG.err, text);
    return 1;
  };
  // shutdown's wall: the console is the only place to broadcast on a node without logins.
  const wall = () => {
    if (req.applet === "shutdown" && req.wall) deps.kmsg(kmsgLine(KMSG.notice, tag, deps.pid, announcement(req)));
  };

  if (req.announceOnly) {
    wall();
    io.stdout(`${tag}: ${announcement(req)} (announcement only: -k; nothing scheduled)\n`);
    log(KMSG.notice, `announced ${describe(req)} only (-k)`);
    return 0;
  }

  if (req.force) {
    const how = `${req.sync ? "sync, then " : ""}reboot(2), without init`;
    io.stdout(`${tag}: forcing ${req.action} now: ${how}\n`);
    log(KMSG.notice, `forced ${req.action}: ${how}`);
    try {
      if (req.sync) await deps.sync();
      await deps.reboot(POWER[req.action].command);
    } catch (e) {
      return fail(`forced ${req.action} failed: ${(e as Error).message}`);
    }
    return 0; // only fakes return here: the real reboot(2) never comes back on success
  }

  const what = describe(req);
  log(KMSG.notice, `requesting ${what} via machine API at ${deps.socketPath}`);
  let client: PowerClient | undefined;
  try {
    client = await withTimeout(deps.connect(deps.socketPath), deps.timeoutMs, unreachable);
    const c = client;
    let note = "";
    if (req.cancel) {
      const had = await withTimeout(c.cancel(), deps.timeoutMs, unreachable);
      if (!had) note = " (nothing was scheduled)";
      io.stdout(`${tag}: ${had ? "scheduled shutdown cancelled" : "no shutdown was scheduled"}\n`);
      if (had) wall();
    } else if (req.when === "now") {
      await withTimeout(c.power(req.action), deps.timeoutMs, unreachable);
      if (req.applet === "shutdown") wall();
      io.stdout(`${tag}: init accepted ${req.action}; its shutdown sequence is running\n`);
    } else {
      const at = req.when;
      await withTimeout(c.schedule({ action: req.action, at, message: req.message }), deps.timeoutMs, unreachable);
      wall();
      io.stdout(`${tag}: ${req.action} scheduled for ${formatTime(at)}; \`shutdown -c\` cancels it\n`);
    }
    log(KMSG.notice, `requested ${what} via machine API: ok${note}`);
    return 0;
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof UnreachableError && req.cancel) return fail(`cannot reach init at ${deps.socketPath}: ${msg}`);
    if (e instanceof UnreachableError) {
      const flags = req.action === "poweroff" ? "-f" : req.action === "halt" ? "-f --halt" : "-f --reboot";
      return fail(`cannot reach init at ${deps.socketPath}: ${msg}; \`poweroff ${flags}\` works without init`);
    }
    return fail(`requested ${what} via machine API: failed: ${msg}`);
  } finally {
    client?.close();
  }
}
