// Block device I/O counters from /proc/diskstats, per device and summed.
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

const COLUMNS = [
  "read_completed",
  "read_merged",
  "read_sectors",
  "read_time_ms",
  "write_completed",
  "write_merged",
  "write_sectors",
  "write_time_ms",
  "io_in_progress",
  "io_time_ms",
  "io_time_weighted_ms",
  "discard_completed",
  "discard_merged",
  "discard_sectors",
  "discard_time_ms",
] as const;

export function diskStats(text = readProc("diskstats")): { total: Msg<machine.DiskStat>; devices: Msg<machine.DiskStat>[] } {
  const devices: Msg<machine.DiskStat>[] = [];
  const total: Record<string, number | string> = { name: "total" };
  for (const line of text.split("\n")) {
    const cols = fields(line);
    if (cols.length < 14) continue;
    const dev: Record<string, number | string> = { name: cols[2]! };
    COLUMNS.forEach((c, j) => {
      const v = num(cols[3 + j]);
      dev[c] = v;
      total[c] = ((total[c] as number | undefined) ?? 0) + v;
    });
    devices.push(dev as Msg<machine.DiskStat>);
  }
  return { total: total as Msg<machine.DiskStat>, devices };
}
