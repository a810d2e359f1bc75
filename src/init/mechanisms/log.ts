// init's own log ("machined", as in Talos): every line goes to an in-memory
// ring the machine API serves, and to the console and/or /dev/kmsg:
//   - sandbox: the console (init's stdout, the launcher's pipe); no kmsg, it
//     is the host's kernel log.
//   - kernel boot: /dev/kmsg once it is attached. The kernel prints kmsg
//     records on its console itself, so when init's stdout *is* the kernel's
//     console (/dev/console) a line is written to kmsg only: written to both,
//     every line would appear twice on the serial console (Talos, too, writes
//     to kmsg and lets the kernel print). Lines logged before kmsg is attached
//     (the first mounts) are held back and replayed into kmsg when it attaches,
//     so Dmesg has the whole boot; they go to the console instead if kmsg
//     never comes (releaseHeld).
// Writing never throws: a broken console must not take PID 1 down, and never
// blocks: console writes go through a bounded queue and one asynchronous
// write(2) at a time (a thread of Bun's pool waits on a slow reader of the
// sandbox's pipe or a 115200-baud serial console, not the event loop). Past the
// bound, lines are counted and the count is written when the console catches up.
import { closeSync, fstatSync, openSync, write as writeAsync, writeSync } from "node:fs";
import { LogRing } from "../../lib/ring.ts";

export type Level = "info" | "warn" | "error";

/** Syslog priorities for /dev/kmsg's "<N>" prefix. */
const KMSG_PRIORITY: Record<Level, number> = { info: 6, warn: 4, error: 3 };

/**
 * The kernel refuses a /dev/kmsg record over LOG_LINE_MAX (992 bytes on 6.1)
 * with EINVAL; longer lines are split into records of at most this many bytes.
 */
export const KMSG_RECORD_BYTES = 900;

/** Console bytes queued behind a slow console before lines are dropped (counted, and the count reported). */
export const CONSOLE_QUEUE_BYTES = 1 << 20;

/** /dev/console's device number (major 5, minor 1). */
const CONSOLE_MAJOR = 5;
const CONSOLE_MINOR = 1;

interface Line {
  level: Level;
  msg: string;
}

export class NodeLog {
  /** 5,000 lines and 2 MiB: init's own lines are short, and a console-mirrored service's are bounded by the ring's byte bound. */
  readonly ring = new LogRing(5000, 2 << 20);
  private kmsgFd: number | undefined;
  /** init's stdout; undefined for a log without a console (unit tests). */
  private consoleFd: number | undefined;
  /** Lines waiting for kmsg (a kernel boot before /dev is mounted); undefined when not holding. */
  private held: Line[] | undefined;
  /** kmsg reaches the console through the kernel: do not write the console as well. */
  private kmsgIsConsole = false;
  /** Console text waiting for the write in flight. */
  private consoleQueue: string[] = [];
  private consoleQueued = 0;
  private consoleWriting = false;
  /** Lines not queued because the console was CONSOLE_QUEUE_BYTES behind. */
  private consoleDropped = 0;
  private consoleIdle: (() => void)[] = [];

  /** `console`: false for none (unit tests), or a fd other than stdout; `holdForKmsg`: a kernel boot (see above). */
  constructor(opts: { console?: boolean | number; holdForKmsg?: boolean } = {}) {
    this.consoleFd = opts.console === false ? undefined : typeof opts.console === "number" ? opts.console : 1;
    if (opts.holdForKmsg) this.held = [];
  }

  /**
   * Also write to /dev/kmsg from now on, and replay the held lines into it;
   * returns the reason when it cannot (the held lines then go to the console).
   * `consoleIsKernels`: init's console is the kernel's, which prints kmsg records.
   */
  attachKmsg(path = "/dev/kmsg", consoleIsKernels = false): string | undefined {
    try {
      this.kmsgFd = openSync(path, "w");
    } catch (e) {
      this.releaseHeld();
      return errText(e);
    }
    this.kmsgIsConsole = consoleIsKernels && this.consoleFd !== undefined;
    const held = this.held ?? [];
    this.held = undefined;
    for (const l of held) {
      this.toKmsg(l);
      if (!this.kmsgIsConsole) this.toConsole(l);
    }
    return undefined;
  }

  /** Stops holding lines for kmsg: writes the held ones to the console (kmsg is not coming). */
  releaseHeld(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const l of held) this.toConsole(l);
  }

  /** Whether lines reach the console only through kmsg (tests, and the boot log). */
  get consoleViaKmsg(): boolean {
    return this.kmsgFd !== undefined && this.kmsgIsConsole;
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
    const line = { level, msg };
    this.ring.push(`${new Date().toISOString()} ${tag(level)}${msg}`);
    if (this.held) {
      this.held.push(line);
      return;
    }
    if (this.kmsgFd !== undefined) this.toKmsg(line);
    if (!this.consoleViaKmsg) this.toConsole(line);
  }

  private toConsole({ level, msg }: Line): void {
    if (this.consoleFd === undefined) return;
    const text = `[minos] ${tag(level)}${msg}\n`;
    if (this.consoleQueued + text.length > CONSOLE_QUEUE_BYTES) {
      this.consoleDropped++;
      return;
    }
    this.consoleQueue.push(text);
    this.consoleQueued += text.length;
    if (!this.consoleWriting) this.pumpConsole();
  }

  /** Writes everything queued in one write(2) off the event loop, then the next batch. */
  private pumpConsole(): void {
    const fd = this.consoleFd;
    if (fd === undefined || (this.consoleQueue.length === 0 && this.consoleDropped === 0)) {
      this.consoleWriting = false;
      for (const f of this.consoleIdle.splice(0)) f();
      return;
    }
    if (this.consoleDropped > 0) {
      this.consoleQueue.push(
        `[minos] warn: ${this.consoleDropped} lines not written to the console: it was more than ${CONSOLE_QUEUE_BYTES >> 10} KiB behind (the log ring has them)\n`,
      );
      this.consoleDropped = 0;
    }
    const batch = Buffer.from(this.consoleQueue.join(""));
    this.consoleQueue = [];
    this.consoleQueued = 0;
    this.consoleWriting = true;
    const done = (rest: Buffer) => (err: NodeJS.ErrnoException | null, written: number) => {
      if (!err && written < rest.length) {
        const left = rest.subarray(written);
        writeAsync(fd, left, 0, left.length, null, done(left));
        return;
      }
      // An error (no console): the ring and kmsg still have the lines.
      this.pumpConsole();
    };
    try {
      writeAsync(fd, batch, 0, batch.length, null, done(batch));
    } catch {
      this.pumpConsole();
    }
  }

  /** Resolves once the console has taken every queued line, or after `timeoutMs` (before reboot(2) ends the node). */
  drainConsole(timeoutMs: number): Promise<void> {
    if (!this.consoleWriting) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.consoleIdle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private toKmsg({ level, msg }: Line): void {
    if (this.kmsgFd === undefined) return;
    for (const part of kmsgRecords(msg)) {
      try {
        // One write(2) per record: the kernel makes each write one log record.
        writeSync(this.kmsgFd, `<${KMSG_PRIORITY[level]}>minos: ${tag(level)}${part}\n`);
      } catch {
        // a gone device: not worth a failure (the ring still has the line)
      }
    }
  }

  /** Detaches kmsg (the shutdown unmounts /dev); later lines go to the console again. */
  close(): void {
    if (this.kmsgFd !== undefined) {
      try {
        closeSync(this.kmsgFd);
      } catch {}
      this.kmsgFd = undefined;
    }
    this.kmsgIsConsole = false;
  }
}

function tag(level: Level): string {
  return level === "info" ? "" : `${level}: `;
}

/**
 * One message as kmsg records: one per line of the message (kmsg escapes a
 * newline inside a record as \x0a), each at most KMSG_RECORD_BYTES, split on
 * character boundaries.
 */
export function kmsgRecords(msg: string): string[] {
  const out: string[] = [];
  for (const line of msg.split("\n")) {
    let cur = "";
    let bytes = 0;
    for (const ch of line) {
      const n = Buffer.byteLength(ch);
      if (bytes + n > KMSG_RECORD_BYTES) {
        out.push(cur);
        cur = "";
        bytes = 0;
      }
      cur += ch;
      bytes += n;
    }
    out.push(cur);
  }
  return out;
}

/** Is init's stdout the kernel's console (/dev/console, 5:1)? False when fd 1 is not open. */
export function stdoutIsKernelConsole(fd = 1): boolean {
  try {
    const { rdev } = fstatSync(fd);
    const major = (rdev >> 8) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    return major === CONSOLE_MAJOR && minor === CONSOLE_MINOR;
  } catch {
    return false;
  }
}

/** "error message" of anything thrown. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
