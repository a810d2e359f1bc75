// The kernel command line, as init reads it: `minos.config=<path>` and
// `panic=<seconds>` (panic=0: the emergency path waits forever instead of
// rebooting). In the sandbox /proc/cmdline is the host's, so the launcher may
// hand the node its own in MINOS_CMDLINE instead (sandbox only).
import { readFileSync } from "node:fs";

export interface Cmdline {
  raw: string;
  params: Map<string, string>;
}

export function parseCmdline(raw: string): Cmdline {
  const params = new Map<string, string>();
  for (const word of raw.trim().split(/\s+/)) {
    if (!word) continue;
    const eq = word.indexOf("=");
    if (eq < 0) params.set(word, "");
    else params.set(word.slice(0, eq), word.slice(eq + 1).replace(/^"(.*)"$/, "$1"));
  }
  return { raw: raw.trim(), params };
}

export function readCmdline(sandbox: boolean, env: Readonly<Record<string, string | undefined>>): Cmdline {
  if (sandbox) return parseCmdline(env.MINOS_CMDLINE ?? "");
  try {
    return parseCmdline(readFileSync("/proc/cmdline", "utf8"));
  } catch {
    return parseCmdline("");
  }
}
