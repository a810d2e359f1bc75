// Kernel/system statistics from /proc/stat; CPU times converted from clock ticks (USER_HZ = 100) to seconds.
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

const USER_HZ = 100;

function cpuStat(cols: string[]): Msg<machine.CPUStat> {
  const s = (i: number) => num(cols[i]) / USER_HZ;
  return { user: s(0), nice: s(1), system: s(2), idle: s(3), iowait: s(4), irq: s(5), soft_irq: s(6), steal: s(7), guest: s(8), guest_nice: s(9) };
}

export function systemStat(text = readProc("stat")): Msg<machine.SystemStat> {
  const out: Msg<machine.SystemStat> = { cpu: [] };
  for (const line of text.split("\n")) {
    const [key, ...cols] = fields(line);
    if (!key) continue;
    if (key === "cpu") out.cpu_total = cpuStat(cols);
    else if (/^cpu\d+$/.test(key)) out.cpu!.push(cpuStat(cols));
    else if (key === "intr") {
      out.irq_total = num(cols[0]);
      out.irq = cols.slice(1).map(num);
    } else if (key === "ctxt") out.context_switches = num(cols[0]);
    else if (key === "btime") out.boot_time = num(cols[0]);
    else if (key === "processes") out.process_created = num(cols[0]);
    else if (key === "procs_running") out.process_running = num(cols[0]);
    else if (key === "procs_blocked") out.process_blocked = num(cols[0]);
    else if (key === "softirq") {
      const v = cols.map(num);
      out.soft_irq_total = v[0];
      out.soft_irq = {
        hi: v[1],
        timer: v[2],
        net_tx: v[3],
        net_rx: v[4],
        block: v[5],
        block_io_poll: v[6],
        tasklet: v[7],
        sched: v[8],
        hrtimer: v[9],
        rcu: v[10],
      };
    }
  }
  return out;
}
