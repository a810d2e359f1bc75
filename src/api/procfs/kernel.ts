// The running kernel's release (what `uname -r` prints), for Version.
import { readProc } from "./read.ts";

/** "" when /proc is not there to ask: Version must still answer. */
export function kernelRelease(read: () => string = () => readProc("sys/kernel/osrelease")): string {
  try {
    return read().trim();
  } catch {
    return "";
  }
}
