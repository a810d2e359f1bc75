// Load averages from /proc/loadavg.
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

export function loadAvg(text = readProc("loadavg")): Msg<machine.LoadAvg> {
  const [l1, l5, l15] = fields(text);
  return { load1: num(l1), load5: num(l5), load15: num(l15) };
}
