// init's own log ("machined", as in Talos): every line goes to the console
// (init's stdout), to /dev/kmsg when it is writable (so dmesg shows it), and to
// an in-memory ring the machine API serves. Writing never throws: a broken
// console must not take PID 1 down.
import { closeSync, openSync, writeSync } from "node:fs";
import { LogRing } from "../lib/ring.ts";

export type Level = "info" | "warn" | "error";

/** Syslog priorities for /dev/kmsg's "<N>" prefix. */
const KMSG_PRIORITY: Record<Level, number> = { info: 6, warn: 4, error: 3 };

export class NodeLog {
  readonly ring = new LogRing(5000);
  private kmsgFd: number | undefined;
  /** init's stdout; undefined for a log without a console (unit tests). */
  private consoleFd: number | undefined;

  constructor(opts: { console?: boolean } = {}) {
    this.consoleFd = opts.console === false ? undefined : 1;
  }

  /** Also write to /dev/kmsg from now on; returns the reason when it cannot. */
  attachKmsg(path = "/dev/kmsg"): string | undefined {
    try {
      this.kmsgFd = openSync(path, "w");
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /** Re-points the console (a kernel boot without /dev/console at exec gives init no stdout). */
  setConsoleFd(fd: number): void {
    this.consoleFd = fd;
  }

  info(msg: string): void {
    this.write("info", msg);
  }
  warn(msg: string): void {
    this.write("warn", msg);
  }
  error(msg: string): void {
    this.write("error", msg);
  }

  /** A machine-readable line: `[minos] {"event":...}` (tests and tools parse it). */
  json(event: string, fields: Record<string, unknown>): void {
    this.write("info", JSON.stringify({ event, ...fields }));
  }

  private write(level: Level, msg: string): void {
    const tag = level === "info" ? "" : `${level}: `;
    this.ring.push(`${new Date().toISOString()} ${tag}${msg}`);
    try {
      if (this.consoleFd !== undefined) writeSync(this.consoleFd, `[minos] ${tag}${msg}\n`);
    } catch {
      // no console: the ring and kmsg still have it
    }
    if (this.kmsgFd !== undefined) {
      try {
        // One write(2) per record; kmsg takes at most ~1 KiB per record.
        writeSync(this.kmsgFd, `<${KMSG_PRIORITY[level]}>minos: ${msg.slice(0, 900)}\n`);
      } catch {
        // kmsg rate limiting or a gone device: not worth a failure
      }
    }
  }

  close(): void {
    if (this.kmsgFd !== undefined) {
      try {
        closeSync(this.kmsgFd);
      } catch {}
      this.kmsgFd = undefined;
    }
  }
}

/** "error message" of anything thrown. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
