// Mounted filesystems (/proc/self/mountinfo) with their size and free space (statfs).
import { statfsSync } from "node:fs";
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields } from "./read.ts";

import { unescapeMountField } from "../../lib/mountinfo.ts";

export function mounts(text = readProc("self/mountinfo")): Msg<machine.MountStat>[] {
  const out: Msg<machine.MountStat>[] = [];
  for (const line of text.split("\n")) {
    const cols = fields(line);
    const dash = cols.indexOf("-");
    if (dash < 0 || cols.length < dash + 3) continue;
    const mountedOn = unescapeMountField(cols[4]!);
    const filesystem = unescapeMountField(cols[dash + 2]!);
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
