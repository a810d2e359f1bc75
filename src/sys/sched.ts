// Scheduling priority of the calling thread. Linux keeps a nice value per
// thread: setpriority(PRIO_PROCESS, tid) changes only that thread, which is how
// PID 1's config worker yields the CPU to PID 1's own event loop thread.
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
