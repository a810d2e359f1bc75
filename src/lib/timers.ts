// Timers, once: deadlines on promises, abortable sleeps and wall-clock alarms.
// Every wait in minos goes through these, so each clears its timer whichever
// way it ends (a settled wait leaves nothing keeping the process alive) and no
// delay can overflow into "now".

/** The longest delay a timer takes: beyond it Bun (as Node) fires at once, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The default failure: "no answer within 5 s". */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * Settles as `p` does, or rejects after `ms` with `fail(text)` (text is "no
 * answer within N s"). `p` itself is not cancelled: a caller that must clean
 * up a late result does so on `p`.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, fail: (text: string) => Error = (t) => new TimeoutError(t)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`no answer within ${ms / 1000} s`)), Math.min(ms, MAX_TIMER_MS));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** `p`'s value, or undefined once `ms` passed first. */
export function valueWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.min(ms, MAX_TIMER_MS))));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Sleeps `ms`; resolves true when the time passed, false as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `p`'s value, or why it was not waited for: the timeout passed, or `signal`
 * aborted (a shutdown taking over the boot must not wait on a hung child).
 */
export function waitOrCut<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | "timeout" | "aborted"> {
  if (signal.aborted) return Promise.resolve("aborted");
  let t: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<"timeout" | "aborted">((resolve) => {
    t = setTimeout(() => resolve("timeout"), Math.min(ms, MAX_TIMER_MS));
    onAbort = () => resolve("aborted");
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([p, cut]).finally(() => {
    clearTimeout(t);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  });
}

export interface Alarm {
  cancel(): void;
}

/**
 * Calls `fire` once at the wall-clock time `at` (ms since the epoch), never
 * synchronously. A far time (`shutdown +40000` is ~28 days) is reached in steps
 * of at most MAX_TIMER_MS, each re-reading the clock, so an overflowing delay can
 * never turn into "now".
 */
export function alarmAt(at: number, fire: () => void): Alarm {
  let t: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    t = setTimeout(step, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
  };
  const step = () => {
    if (Date.now() >= at) fire();
    else arm();
  };
  arm();
  return { cancel: () => clearTimeout(t) };
}

/**
 * Calls `fire` once after `ms` of monotonic time (a clock step at boot, NTP's
 * first sync, does not move it), never synchronously. Any length: reached in
 * steps of at most MAX_TIMER_MS, so an overflowing delay can never turn into "now".
 */
export function afterMs(ms: number, fire: () => void): Alarm {
  const at = performance.now() + ms;
  let t: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    t = setTimeout(step, Math.min(Math.max(0, Math.ceil(at - performance.now())), MAX_TIMER_MS));
  };
  const step = () => {
    if (performance.now() >= at) fire();
    else arm();
  };
  arm();
  return { cancel: () => clearTimeout(t) };
}
