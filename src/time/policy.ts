// The time-sync policy as pure functions: what to do with a measured offset
// (step, slew or hold it back) and how long to wait before the next round.
// src/time/sync.ts runs the loop; the rules are here, explained in its header.
import { DEFAULT_LIMITS, type CheckLimits } from "./check.ts";

export type SampleAction = "step" | "slew" | "held";
/** What a round did to the clock. */
export type RoundResult = SampleAction | "failed";

/** The tunables of TimeSyncOptions, defaults applied (see there). */
export interface Policy {
  servers: string[];
  /** 0: no timeout. */
  bootTimeoutMs: number;
  pollMinMs: number;
  pollMaxMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  queryTimeoutMs: number;
  samples: number;
  sampleSpacingMs: number;
  stepThresholdNs: bigint;
  maxChangeNs: bigint;
  maxChangeConfirmations: number;
  limits: CheckLimits;
}

export interface PolicyOptions {
  /** machine.time.servers: host names or addresses, optionally with :port. */
  servers: readonly string[];
  /** machine.time.bootTimeout, ms. Unset or 0: wait for sync forever, Talos's default. */
  bootTimeoutMs?: number;
  /** Poll interval bounds once synced (default 64 s .. 1024 s). */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** Retry bounds while not synced (default 1 s .. 16 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long to wait for one answer (default 2 s). */
  queryTimeoutMs?: number;
  /** Queries per round once synced (default 4), and their spacing (default 2 s: pool servers send RATE to faster bursts). */
  samples?: number;
  sampleSpacingMs?: number;
  /** Offsets above this are stepped, below slewed (default 400 ms; at most 500 ms, the kernel PLL's limit). */
  stepThresholdMs?: number;
  /** The max-change rule (see sync.ts's header): default 1000 s and 3 confirmations. */
  maxChangeMs?: number;
  maxChangeConfirmations?: number;
  /** Sanity limits of check.ts (root distance, earliest plausible time). */
  limits?: Partial<CheckLimits>;
}

export function policy(o: PolicyOptions): Policy {
  // The kernel PLL clamps a slew to ±0.5 s: a larger threshold would leave offsets it cannot correct.
  const stepThresholdMs = Math.min(o.stepThresholdMs ?? 400, 500);
  return {
    servers: [...o.servers],
    bootTimeoutMs: Math.max(0, o.bootTimeoutMs ?? 0),
    pollMinMs: o.pollMinMs ?? 64_000,
    pollMaxMs: o.pollMaxMs ?? 1_024_000,
    retryMinMs: o.retryMinMs ?? 1_000,
    retryMaxMs: o.retryMaxMs ?? 16_000,
    queryTimeoutMs: o.queryTimeoutMs ?? 2_000,
    samples: Math.max(1, o.samples ?? 4),
    sampleSpacingMs: o.sampleSpacingMs ?? 2_000,
    stepThresholdNs: BigInt(Math.round(stepThresholdMs * 1e6)),
    maxChangeNs: BigInt(Math.round((o.maxChangeMs ?? 1_000_000) * 1e6)),
    maxChangeConfirmations: Math.max(1, o.maxChangeConfirmations ?? 3),
    limits: { ...DEFAULT_LIMITS, ...o.limits },
  };
}

const abs = (v: bigint) => (v < 0n ? -v : v);

/** A large offset seen while synced, waiting for confirmation (the max-change rule). */
export interface PendingChange {
  offsetNs: bigint;
  count: number;
}

/**
 * What to do with the winning sample's offset. Before the first sync: step.
 * Synced: above maxChange, hold it until the same offset (within the step
 * threshold) has been seen maxChangeConfirmations rounds in a row, then step;
 * above the step threshold step; else slew.
 */
export function decide(
  offsetNs: bigint,
  synced: boolean,
  pending: PendingChange | undefined,
  p: Policy,
): { action: SampleAction; pending: PendingChange | undefined } {
  if (!synced) return { action: "step", pending: undefined };
  if (abs(offsetNs) > p.maxChangeNs) {
    const next =
      pending && abs(offsetNs - pending.offsetNs) <= p.stepThresholdNs ? { offsetNs: pending.offsetNs, count: pending.count + 1 } : { offsetNs, count: 1 };
    if (next.count < p.maxChangeConfirmations) return { action: "held", pending: next };
    return { action: "step", pending: undefined };
  }
  return { action: abs(offsetNs) > p.stepThresholdNs ? "step" : "slew", pending: undefined };
}

/** The loop's interval state: the retry backoff while unsynced, the poll interval once synced. */
export interface Intervals {
  retryMs: number;
  pollMs: number;
}

export function initialIntervals(p: Policy): Intervals {
  return { retryMs: p.retryMinMs, pollMs: p.pollMinMs };
}

/**
 * How long to sleep after a round, and the new interval state. Unsynced: the
 * retry interval, doubling to retryMax. Synced: a slew of a small offset
 * (< step threshold / 4) doubles the poll interval up to pollMax; a step, a
 * held sample or a failed round go back to pollMin.
 */
export function nextInterval(
  iv: Intervals,
  synced: boolean,
  r: RoundResult,
  lastOffsetNs: bigint | undefined,
  p: Policy,
): { sleepMs: number; intervals: Intervals } {
  if (!synced) return { sleepMs: iv.retryMs, intervals: { retryMs: Math.min(iv.retryMs * 2, p.retryMaxMs), pollMs: iv.pollMs } };
  let pollMs = iv.pollMs;
  if (r === "slew") {
    if (lastOffsetNs !== undefined && abs(lastOffsetNs) * 4n < p.stepThresholdNs) pollMs = Math.min(pollMs * 2, p.pollMaxMs);
  } else pollMs = p.pollMinMs;
  return { sleepMs: pollMs, intervals: { retryMs: p.retryMinMs, pollMs } };
}
