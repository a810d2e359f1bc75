// A running service's health loop: the check every startIntervalMs until it
// first passes, then every intervalMs, each bounded by timeoutMs; it ends when
// the service stops or its run is replaced.
import { sleep, withTimeout } from "../../lib/timers.ts";
import { errText } from "../mechanisms/log.ts";
import type { HealthCheck } from "./spec.ts";

export async function runHealthLoop(h: HealthCheck, signal: AbortSignal, current: () => boolean, report: (ok: boolean, msg: string) => void): Promise<void> {
  let everHealthy = false;
  while (!signal.aborted && current()) {
    let ok = true;
    let msg = "";
    try {
      await withTimeout(h.check(), h.timeoutMs, () => new Error(`timed out after ${h.timeoutMs} ms`));
    } catch (e) {
      ok = false;
      msg = errText(e);
    }
    if (signal.aborted || !current()) return;
    report(ok, ok ? "" : msg);
    everHealthy ||= ok;
    if (!(await sleep(everHealthy ? h.intervalMs : h.startIntervalMs, signal))) return;
  }
}
