// What a poweroff/shutdown command line asks for, as a plain value. Parsing is
// pure (argv and the clock in, a Request or a UsageError out) so the whole
// flag × invoked-name matrix is a unit test; nothing here touches the node.
import type { PowerAction } from "../../node/power.ts";
import { parseFlags, UsageError, type FlagSpec } from "../../lib/args.ts";
import { HELP, type PowerAppletName } from "./usage.ts";

export type { PowerAppletName };

export type { PowerAction };
export { UsageError };

export interface Request {
  /** Which command line this came from (messages are prefixed with it). */
  applet: PowerAppletName;
  action: PowerAction;
  /** poweroff -f: skip init, sync and reboot(2) at once. */
  force: boolean;
  /** false with -n/--no-sync (only meaningful with force). */
  sync: boolean;
  /** false with --no-wall: don't announce on the console. */
  wall: boolean;
  when: "now" | Date;
  /** shutdown -c */
  cancel: boolean;
  /** shutdown -k: announce, change nothing. */
  announceOnly: boolean;
  /** shutdown's WALL… words, joined by spaces. */
  message: string;
}

/** --help was asked for: print the help text, exit 0. */
export interface Help {
  help: true;
  applet: PowerAppletName;
}

export type Parsed = Request | Help | UsageError;

export const isHelp = (p: Parsed): p is Help => !(p instanceof UsageError) && "help" in p;

/** One line each, for bad input ("one usage line, exit 1"): the first line of --help, so the two cannot drift apart. */
export function usageLine(applet: PowerAppletName): string {
  const text = HELP[applet];
  return text.slice(0, text.indexOf("\n"));
}

/**
 * Every flag of these commands is boolean, so words can be told from flags by
 * their first character. The flag parser only ever sees the flags: given words too,
 * it would take "true"/"false" after a boolean flag as that flag's value
 * (`shutdown -c false alarm` would not cancel).
 */
function flagsAndWords(argv: string[]): { flagArgs: string[]; words: string[] } {
  const flagArgs: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    const second = a.charCodeAt(1);
    if (a.startsWith("-") && a !== "-" && !(second >= 48 && second <= 57)) flagArgs.push(a);
    else words.push(a);
  }
  return { flagArgs, words };
}

const DEFAULT_ACTION: Record<PowerAppletName, PowerAction> = {
  poweroff: "poweroff",
  halt: "halt",
  reboot: "reboot",
  shutdown: "poweroff",
};

export const POWEROFF_FLAGS: FlagSpec = {
  // "sync" and "wall" exist so that --no-sync / --no-wall parse as negations.
  boolean: ["poweroff", "halt", "reboot", "force", "no-sync", "sync", "wall", "help"],
  alias: { poweroff: ["p"], halt: ["H"], reboot: ["r"], force: ["f"], "no-sync": ["n"], help: ["h"] },
};

export const SHUTDOWN_FLAGS: FlagSpec = {
  // -h is systemd's "halt or power off" (power off unless -H); it is not help.
  boolean: ["poweroff", "h", "halt", "reboot", "c", "k", "wall", "help"],
  alias: { poweroff: ["P"], halt: ["H"], reboot: ["r"] },
};

/** The poweroff family (poweroff, halt, reboot): immediate, never scheduled. */
function parsePoweroff(applet: Exclude<PowerAppletName, "shutdown">, argv: string[]): Parsed {
  const { flagArgs, words } = flagsAndWords(argv);
  const { flags: f } = parseFlags(flagArgs, POWEROFF_FLAGS);
  if (f.help === true) return { help: true, applet };
  if (words.length > 0) throw new UsageError(`unexpected argument "${words[0]}"`);
  const action = pickAction(DEFAULT_ACTION[applet], {
    poweroff: f.poweroff === true,
    halt: f.halt === true,
    reboot: f.reboot === true,
  });
  return {
    applet,
    action,
    force: f.force === true,
    sync: !(f["no-sync"] === true || f.sync === false),
    wall: f.wall !== false,
    when: "now",
    cancel: false,
    announceOnly: false,
    message: "",
  };
}

function parseShutdown(argv: string[], now: Date): Parsed {
  const { flagArgs, words } = flagsAndWords(argv);
  const { flags: f } = parseFlags(flagArgs, SHUTDOWN_FLAGS);
  if (f.help === true) return { help: true, applet: "shutdown" };
  const cancel = f.c === true;
  const announceOnly = f.k === true;
  if (cancel && announceOnly) throw new UsageError("-c and -k cannot be combined");
  const action = pickAction("poweroff", {
    // -h alone powers off; with -H it halts, so it never conflicts.
    poweroff: f.poweroff === true,
    halt: f.halt === true,
    reboot: f.reboot === true,
  });
  // With -c every word is the wall message (systemd: shutdown -c [WALL...]).
  // Otherwise the first word is TIME; systemd implies "+1" when it is absent.
  let when: "now" | Date = addMinutes(now, 1);
  if (!cancel && words.length > 0) when = parseTime(words.shift()!, now);
  return {
    applet: "shutdown",
    action,
    force: false,
    sync: true,
    wall: f.wall !== false,
    when,
    cancel,
    announceOnly,
    message: words.join(" "),
  };
}

/** At most one explicit action; the invoked name decides when there is none. */
function pickAction(fallback: PowerAction, explicit: Record<PowerAction, boolean>): PowerAction {
  const chosen = (Object.keys(explicit) as PowerAction[]).filter((a) => explicit[a]);
  if (chosen.length > 1) throw new UsageError(`conflicting actions: ${chosen.map((a) => `--${a}`).join(" and ")}`);
  return chosen[0] ?? fallback;
}

const MAX_MINUTES = 366 * 24 * 60;

/**
 * shutdown's TIME: "now", "+m" (minutes from now; +0 is now) or "hh:mm" (24 h,
 * local time of the node, the next such minute: today if still ahead, else tomorrow).
 */
export function parseTime(spec: string, now: Date): "now" | Date {
  if (spec === "now") return "now";
  const rel = /^\+(\d{1,6})$/.exec(spec);
  if (rel) {
    const minutes = Number(rel[1]);
    if (minutes > MAX_MINUTES) throw new UsageError(`bad TIME "${spec}": at most +${MAX_MINUTES} minutes`);
    return minutes === 0 ? "now" : addMinutes(now, minutes);
  }
  const abs = /^(\d{1,2}):(\d{2})$/.exec(spec);
  if (abs) {
    const h = Number(abs[1]);
    const m = Number(abs[2]);
    if (h > 23 || m > 59) throw new UsageError(`bad TIME "${spec}": hh:mm is 00:00 to 23:59`);
    const at = new Date(now.getTime());
    at.setHours(h, m, 0, 0);
    // systemd: a time not after now means tomorrow.
    if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
    return at;
  }
  throw new UsageError(`bad TIME "${spec}": use now, +MINUTES or hh:mm`);
}

function addMinutes(d: Date, minutes: number): Date {
  return new Date(d.getTime() + minutes * 60_000);
}

/**
 * The whole command line → what to do. Never throws: bad input comes back as a
 * UsageError value so callers can't forget to handle it.
 */
export function parse(applet: PowerAppletName, argv: string[], now: Date): Parsed {
  try {
    return applet === "shutdown" ? parseShutdown(argv, now) : parsePoweroff(applet, argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
}
