// Lines for the kernel log. A usermode helper (kernel.poweroff_cmd, udev,
// a hypervisor agent) has no terminal: /dev/kmsg is where `dmesg` and the
// machine API's Dmesg let a person see what was asked and what came of it.
import { closeSync, openSync, writeSync } from "node:fs";

/** syslog levels used here (the kernel adds facility "user" to written lines). */
export const KMSG = { err: 3, notice: 5 } as const;

/** "<5>poweroff[42]: text" — the prefix dmesg shows and syslog parsers expect. */
export function kmsgLine(level: number, tag: string, pid: number, text: string): string {
  // One record per write; a newline inside would only be cut off by the kernel.
  return `<${level}>${tag}[${pid}]: ${text.replace(/\s*\n\s*/g, " ")}\n`;
}

/** Writes whole records to /dev/kmsg; silently does nothing when it is missing or not writable. */
export function kmsgWriter(path = "/dev/kmsg"): (line: string) => void {
  let fd: number | undefined | null;
  return (line) => {
    try {
      // One open per process: the kernel rate-limits writers per open file.
      if (fd === undefined) fd = openSync(path, "w");
      if (fd !== null) writeSync(fd, line);
    } catch {
      if (fd !== undefined && fd !== null) {
        try {
          closeSync(fd);
        } catch {
          // already gone
        }
      }
      fd = null; // logging must never be the reason a shutdown request fails
    }
  };
}
