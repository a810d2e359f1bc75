// Network interface counters from /proc/net/dev, per device and summed.
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

const COLUMNS = [
  "rx_bytes",
  "rx_packets",
  "rx_errors",
  "rx_dropped",
  "rx_fifo",
  "rx_frame",
  "rx_compressed",
  "rx_multicast",
  "tx_bytes",
  "tx_packets",
  "tx_errors",
  "tx_dropped",
  "tx_fifo",
  "tx_collisions",
  "tx_carrier",
  "tx_compressed",
] as const;

export function netDevStats(text = readProc("net/dev")): { total: Msg<machine.NetDev>; devices: Msg<machine.NetDev>[] } {
  const devices: Msg<machine.NetDev>[] = [];
  const total: Record<string, number | string> = { name: "total" };
  for (const line of text.split("\n").slice(2)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const values = fields(line.slice(i + 1)).map(num);
    const dev: Record<string, number | string> = { name: line.slice(0, i).trim() };
    COLUMNS.forEach((c, j) => {
      dev[c] = values[j] ?? 0;
      total[c] = ((total[c] as number | undefined) ?? 0) + (values[j] ?? 0);
    });
    devices.push(dev as Msg<machine.NetDev>);
  }
  return { total: total as Msg<machine.NetDev>, devices };
}
