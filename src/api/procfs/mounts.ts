// Mounted filesystems (/proc/self/mountinfo) with their size and free space (statfs).
import { statfsSync } from "node:fs";
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields } from "./read.ts";

/** mountinfo escapes blanks in paths as octal (\040). */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function mounts(text = readProc("self/mountinfo")): Msg<machine.MountStat>[] {
  const out: Msg<machine.MountStat>[] = [];
  for (const line of text.split("\n")) {
    const cols = fields(line);
    const dash = cols.indexOf("-");
    if (dash < 0 || cols.length < dash + 3) continue;
    const mountedOn = unescape(cols[4]!);
    const filesystem = unescape(cols[dash + 2]!);
    let size = 0;
    let available = 0;
    try {
      const s = statfsSync(mountedOn);
      size = s.blocks * s.bsize;
      available = s.bavail * s.bsize;
    } catch {
      // A mount we cannot stat (gone, or no permission) is still listed.
    }
    out.push({ filesystem, size, available, mounted_on: mountedOn });
  }
  return out;
}
