// dashboard applet (placeholder until its issue lands): only --help is implemented.
import type { Io } from "../../lib/io.ts";

export const USAGE = "usage: dashboard [--help]\n";

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(USAGE);
    return 0;
  }
  io.stderr("dashboard: not implemented yet\n");
  return 1;
}
