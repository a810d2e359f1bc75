// minosctl applet (placeholder until its issue lands): only --help is implemented.
import type { Io } from "../../lib/io.ts";

export const USAGE = "usage: minosctl [--help]\n";

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(USAGE);
    return 0;
  }
  io.stderr("minosctl: not implemented yet\n");
  return 1;
}
