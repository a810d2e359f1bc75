// Scheduling priority of the calling thread. Linux keeps a nice value per
// thread: setpriority(PRIO_PROCESS, tid) changes only that thread, which is how
// PID 1's config worker yields the CPU to PID 1's own event loop thread.
import { readFileSync } from "node:fs";
import { check, libc, T } from "./ffi.ts";

const sym = libc({
  gettid: { args: [], returns: T.i32 },
  setpriority: { args: [T.i32, T.u32, T.i32], returns: T.i32 },
});

const PRIO_PROCESS = 0;

/** The calling thread's kernel id (equals the pid on the main thread). */
export function gettid(): number {
  return sym().gettid();
}

/** Sets the calling thread's nice value (-20..19; raising it needs no privilege). */
export function setThreadNice(nice: number): void {
  check(sym().setpriority(PRIO_PROCESS, gettid(), nice), "setpriority");
}

/** Sets another thread's nice value (a thread of this process, by its tid). */
export function setNiceOf(tid: number, nice: number): void {
  check(sym().setpriority(PRIO_PROCESS, tid, nice), "setpriority");
}

/** The calling thread's nice value (from /proc/thread-self/stat: getpriority's -1 is ambiguous without errno juggling). */
export function threadNice(): number {
  const stat = readFileSync("/proc/thread-self/stat", "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

/**
 * Runs `fn` with the calling thread at `nice`: threads it creates (a Worker's)
 * inherit that value from their first instruction. Only where the old value can
 * be restored (going back down needs privilege: root); elsewhere `fn` just runs.
 */
export function withThreadNice<T>(nice: number, fn: () => T): T {
  if (process.geteuid?.() !== 0) return fn();
  const before = threadNice();
  if (before >= nice) return fn();
  setThreadNice(nice);
  try {
    return fn();
  } finally {
    setThreadNice(before);
  }
}
