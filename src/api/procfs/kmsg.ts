// The kernel ring buffer through /dev/kmsg: one record per read(2). Opened
// non-blocking so a drained buffer ends a read loop (EAGAIN) instead of
// parking the thread; follow mode polls. (Tried: Bun.file(fd).stream() on the
// non-blocking fd wakes on new records in a small script, but inside the API
// server under test its read never resolved; fs.createReadStream would park a
// thread-pool thread per follower. A 200 ms poll of a non-blocking fd costs
// nothing measurable.)
import { closeSync, constants, openSync, readSync } from "node:fs";
import { NotFoundError } from "../../lib/errors.ts";
import { readProc, fields, num } from "./read.ts";

const FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];
const LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

function bootTimeMs(): number {
  try {
    const line = readProc("stat")
      .split("\n")
      .find((l) => l.startsWith("btime "));
    return num(fields(line ?? "")[1]) * 1000;
  } catch {
    return 0;
  }
}

/** "pri,seq,usec,flags;text" (+ continuation lines) -> Talos's "facility: level: [time]: text". */
export function formatRecord(record: string, bootMs: number): string | undefined {
  const semi = record.indexOf(";");
  if (semi < 0) return undefined;
  const [pri, , usec] = record.slice(0, semi).split(",");
  const text = record.slice(semi + 1).split("\n")[0] ?? "";
  const p = num(pri);
  const facility = FACILITIES[p >> 3] ?? String(p >> 3);
  const level = LEVELS[p & 7] ?? String(p & 7);
  const ts = new Date(bootMs + num(usec) / 1000).toISOString();
  return `${facility}: ${level.padStart(7)}: [${ts}]: ${text}`;
}

export class KmsgReader {
  private fd: number;
  private buf = Buffer.alloc(16 * 1024);
  private readonly bootMs = bootTimeMs();

  constructor(path = "/dev/kmsg") {
    try {
      this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new NotFoundError(`kernel log ${path} not available: ${(e as Error).message}`);
    }
  }

  /** Every record available now, formatted; [] when the buffer is drained. */
  drain(): string[] {
    const out: string[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EPIPE") continue; // records were overwritten under us: go on with the next
        if (code === "EAGAIN" || code === "EWOULDBLOCK") return out;
        throw e;
      }
      if (n <= 0) return out;
      const line = formatRecord(this.buf.toString("utf8", 0, n), this.bootMs);
      if (line !== undefined) out.push(line);
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
