// The world an applet talks to: its output streams and environment. Applets
// take an Io instead of touching process.* so tests can call main() in-process.
import { writeSync } from "node:fs";

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stdout is a terminal (usermode helpers run without one). */
  readonly isTTY: boolean;
}

/**
 * An applet's entrypoint: argv without the applet name, and the name it was
 * invoked under (one applet may answer to several: poweroff and shutdown);
 * resolves to the exit code.
 */
export type AppletMain = (argv: string[], io: Io, invokedAs: string) => Promise<number>;

function writeAll(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // A closed stdout/stderr (EPIPE, EBADF) must never take an applet (or PID 1) down.
  }
}

export function processIo(): Io {
  let tty: boolean | undefined;
  return {
    stdout: (t) => writeAll(1, t),
    stderr: (t) => writeAll(2, t),
    env: process.env,
    // Lazy: the first touch of process.stdout builds Bun's stream machinery
    // (~5 ms measured on `poweroff --help`), and most runs never ask.
    get isTTY() {
      return (tty ??= Boolean(process.stdout.isTTY));
    },
  };
}

/** An Io that records what an applet printed, for tests. */
export function captureIo(env: Record<string, string | undefined> = {}): Io & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    env,
    isTTY: false,
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}
