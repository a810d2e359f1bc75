// The process table from /proc/<pid>/{stat,cmdline,exe}.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { PROC, fields, num } from "./read.ts";

const USER_HZ = 100;
const PAGE_SIZE = 4096;

export function processInfo(pid: number): Msg<machine.ProcessInfo> | undefined {
  try {
    const stat = readFileSync(`${PROC}/${pid}/stat`, "utf8");
    // The command sits in parentheses and may itself contain spaces or ")".
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const command = stat.slice(open + 1, close);
    const rest = fields(stat.slice(close + 1)); // rest[0] is field 3 (state)
    const cmdline = readFileSync(`${PROC}/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    let executable = "";
    try {
      executable = readlinkSync(`${PROC}/${pid}/exe`);
    } catch {
      // Kernel threads and other users' processes have no readable exe.
    }
    return {
      pid,
      ppid: num(rest[1]),
      state: rest[0] ?? "",
      threads: num(rest[17]),
      cpu_time: (num(rest[11]) + num(rest[12])) / USER_HZ,
      virtual_memory: num(rest[20]),
      resident_memory: num(rest[21]) * PAGE_SIZE,
      command,
      executable,
      args: cmdline.join(" "),
    };
  } catch {
    return undefined; // exited while we looked
  }
}

export function processes(): Msg<machine.ProcessInfo>[] {
  const out: Msg<machine.ProcessInfo>[] = [];
  for (const name of readdirSync(PROC)) {
    if (!/^\d+$/.test(name)) continue;
    const p = processInfo(Number(name));
    if (p) out.push(p);
  }
  return out.sort((a, b) => (a.pid ?? 0) - (b.pid ?? 0));
}
