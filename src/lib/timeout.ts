// A deadline on any promise, for callers whose client has none of its own
// (a fake in tests, or a connect that may never settle). The timer is cleared
// either way, so a settled call leaves nothing keeping the process alive.

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
    timer = setTimeout(() => reject(fail(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
