// The real terminal: raw input, size, resize notices, and the escape sequences
// that take over the screen and give it back. Everything else in the dashboard
// talks to the Terminal interface, so it runs in tests without a tty.
import { writeSync } from "node:fs";

export interface Size {
  cols: number;
  rows: number;
}

export interface Terminal {
  size(): Size;
  write(text: string): void;
  /** Take over: alternate screen, hidden cursor, no autowrap, raw keyboard. */
  enter(onInput: (data: string) => void, onResize: () => void): void;
  /** Give the screen back as it was. Safe to call twice. */
  leave(): void;
}

// smcup (alternate screen; the Linux console ignores it and we clear instead),
// hide cursor, autowrap off (so the bottom-right cell never scrolls the screen).
const ENTER = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[0m\x1b[H\x1b[2J";
const LEAVE = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[H\x1b[2J\x1b[?1049l";

/**
 * Writes all of `text` to fd 1. A tty whose other end (stdin, same open file)
 * was made non-blocking returns EAGAIN; a dropped chunk would corrupt the
 * screen, so wait and retry rather than drop, for up to two seconds.
 */
function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text);
  const deadline = Date.now() + 2000;
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" && Date.now() < deadline) Bun.sleepSync(2);
      else return; // EIO/EPIPE: the terminal is gone; the loop will notice and stop.
    }
  }
}

export function ttyTerminal(env: Readonly<Record<string, string | undefined>>): Terminal {
  let entered = false;
  let onData: ((d: Buffer | string) => void) | undefined;
  let onWinch: (() => void) | undefined;
  return {
    size() {
      const cols = process.stdout.columns || Number(env.COLUMNS) || 80;
      const rows = process.stdout.rows || Number(env.LINES) || 24;
      return { cols, rows };
    },
    write(text) {
      writeAll(1, text);
    },
    enter(onInput, onResize) {
      entered = true;
      writeAll(1, ENTER);
      if (process.stdin.isTTY) process.stdin.setRawMode(true);
      onData = (d) => onInput(typeof d === "string" ? d : d.toString("utf8"));
      process.stdin.on("data", onData);
      process.stdin.resume();
      onWinch = onResize;
      process.stdout.on("resize", onWinch);
      process.on("SIGWINCH", onWinch);
    },
    leave() {
      if (!entered) return;
      entered = false;
      if (onData) process.stdin.off("data", onData);
      if (onWinch) {
        process.stdout.off("resize", onWinch);
        process.off("SIGWINCH", onWinch);
      }
      try {
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
      } catch {
        // The tty may already be gone (hangup); nothing left to restore.
      }
      process.stdin.pause();
      writeAll(1, LEAVE);
    },
  };
}
