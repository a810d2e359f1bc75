// Stopping a service's run, escalating: SIGTERM, `graceMs` to exit, then
// SIGKILL to its process group and cgroup.kill for the whole cgroup (children
// included). Always returns in bounded time, even when the process never exits.
import { valueWithin } from "../../lib/timers.ts";
import { kill, SIG } from "../../sys/process.ts";
import type { Run } from "./launch.ts";
import { describeExit } from "./reaper.ts";

/** How long stop() waits at its escalation steps; a parameter so tests need not sit through the real ones. */
export interface StopTiming {
  /** After cgroup.kill, how long to wait for the cgroup to empty before giving up on it. */
  cgroupDrainMs: number;
  /**
   * After the SIGKILLs, how long to wait for the reaper to report the exit. A process
   * outside its cgroup (cgroup.kill misses it), a failed cgroup.kill or one stuck in
   * D-state may never be reported; shutdown must still reach unmount, sync and reboot(2).
   */
  exitWaitMs: number;
}
export const STOP_TIMING: StopTiming = { cgroupDrainMs: 5000, exitWaitMs: 5000 };

/** What the escalation needs of the service it stops. */
export interface StopTarget {
  id: string;
  graceMs: number;
  timing: StopTiming;
  /** The service enters Stopping with this message. */
  stopping(msg: string): void;
  log(msg: string): void;
  /** cgroup.kill, then a bounded wait for the cgroup to empty. */
  killCgroup(): Promise<boolean>;
}

/** How it went, in words, and whether the process is gone. */
export async function escalateStop(run: Run, t: StopTarget): Promise<{ how: string; gone: boolean }> {
  let how = "stopped";
  t.stopping(`sending SIGTERM to pid ${run.pid}, grace ${t.graceMs} ms`);
  try {
    kill(run.pid, SIG.SIGTERM);
  } catch {}
  const inTime = await valueWithin(run.exited, t.graceMs);
  if (inTime === undefined) {
    how = `grace of ${t.graceMs} ms elapsed: killed its cgroup`;
    t.log(`service ${t.id}: ${how}`);
    // The service is a session leader (spawned with setsid), so its pgid is its pid:
    // this reaches it and the children it kept in its group even when they are not
    // in its cgroup (or cgroup.kill fails). Sent before cgroup.kill, while the
    // unreaped leader still pins the pid, so it cannot hit a reused pid.
    try {
      kill(-run.pid, SIG.SIGKILL);
    } catch {}
  }
  await t.killCgroup();
  const status = await valueWithin(run.exited, t.timing.exitWaitMs);
  if (status) return { how: `${how} (${describeExit(status)})`, gone: true };
  t.log(`service ${t.id}: pid ${run.pid} did not exit ${t.timing.exitWaitMs} ms after SIGKILL; moving on`);
  return { how: `${how}; pid ${run.pid} did not exit ${t.timing.exitWaitMs} ms after SIGKILL, left behind`, gone: false };
}
