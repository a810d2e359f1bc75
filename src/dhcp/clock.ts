// Time as the DHCP client sees it, injectable so tests run leases of hours in
// microseconds: a monotonic now() and one-shot timers. The real clock chains
// timeouts, because setTimeout caps at 2^31-1 ms (~24.8 days) and a lease may
// be longer.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  after(ms: number, fn: () => void): Timer;
}

const MAX_TIMEOUT = 0x7fffffff;

export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    let handle: ReturnType<typeof setTimeout> | undefined;
    const due = performance.now() + ms;
    const arm = () => {
      const left = due - performance.now();
      handle = left > MAX_TIMEOUT ? setTimeout(arm, MAX_TIMEOUT) : setTimeout(fn, Math.max(0, left));
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** RFC 2131 §4.1: 4 s doubling to 64 s, each randomized by ±1 s. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  jitterMs: number;
}

export const RFC2131_BACKOFF: Backoff = { initialMs: 4000, maxMs: 64000, jitterMs: 1000 };

/** The delay before retransmission number `attempt` (0: after the first send); `random` in [0, 1). */
export function retransmitDelay(b: Backoff, attempt: number, random: () => number): number {
  const base = Math.min(b.initialMs * 2 ** Math.min(attempt, 30), b.maxMs);
  return Math.max(0, base + (random() * 2 - 1) * b.jitterMs);
}
