// The data loop: connect, sample every interval, and when the node is lost,
// say so and reconnect with exponential backoff. It never throws: every
// failure becomes a state the banner shows.
import type { DashboardSource, SampleRequest, SourceFactory } from "./source.ts";
import { firstLine } from "../../lib/errors.ts";
import { sleep, withTimeout } from "../../lib/timers.ts";
import { applySample, connecting, disconnected, type DashboardState } from "./state.ts";

export interface PollOptions {
  connect: SourceFactory;
  intervalMs: number;
  /** Called on every state change; the caller redraws. */
  update: (fn: (s: DashboardState) => DashboardState) => void;
  /** What to ask for on each sample (the log depth follows the terminal height). */
  request: () => Omit<SampleRequest, "config">;
  signal: AbortSignal;
  /** Fetch the (slow-changing) config every n-th sample. */
  configEvery?: number;
  /** A connect or sample taking longer than this counts as a lost node. */
  timeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  now?: () => number;
}

/** One line a person can act on: the error's first line, without a stack. */
export function describeError(e: unknown): string {
  return firstLine(e, "connection failed");
}

export async function pollLoop(opts: PollOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 15000 };
  const configEvery = opts.configEvery ?? 10;
  let attempt = 1;
  let delay = backoff.initialMs;
  while (!opts.signal.aborted) {
    opts.update((s) => connecting(s, attempt, now()));
    let source: DashboardSource | undefined;
    try {
      const opening = opts.connect();
      // A connect that finishes after we gave up on it must still be closed.
      let abandoned = false;
      opening.then(
        (s) => abandoned && s.close(),
        () => {},
      );
      source = await withTimeout(opening, timeoutMs).catch((e: unknown) => {
        abandoned = true;
        throw e;
      });
      for (let n = 0; !opts.signal.aborted; n++) {
        const sample = await withTimeout(source.sample({ ...opts.request(), config: n % configEvery === 0 }), timeoutMs);
        if (opts.signal.aborted) break;
        opts.update((s) => applySample(s, sample, now()));
        attempt = 1;
        delay = backoff.initialMs;
        await sleep(opts.intervalMs, opts.signal);
      }
    } catch (e) {
      if (opts.signal.aborted) break;
      const error = describeError(e);
      const retryAt = now() + delay;
      const a = attempt;
      opts.update((s) => disconnected(s, error, a, retryAt, now()));
      source?.close();
      source = undefined;
      await sleep(delay, opts.signal);
      attempt++;
      delay = Math.min(delay * 2, backoff.maxMs);
    } finally {
      source?.close();
    }
  }
}
