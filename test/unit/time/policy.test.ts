import { describe, expect, test } from "bun:test";
import { decide, initialIntervals, nextInterval, policy } from "../../../src/time/policy.ts";

const S = 1_000_000_000n;
const MS = 1_000_000n;
const p = policy({ servers: ["x"] });

describe("decide", () => {
  test("unsynced: any offset is stepped, even years", () => {
    expect(decide(50n * 365n * 86_400n * S, false, undefined, p).action).toBe("step");
    expect(decide(1n * MS, false, undefined, p).action).toBe("step");
  });
  test("synced: <= 400 ms slews, above steps, above 1000 s is held", () => {
    expect(decide(400n * MS, true, undefined, p).action).toBe("slew");
    expect(decide(-401n * MS, true, undefined, p).action).toBe("step");
    expect(decide(999n * S, true, undefined, p).action).toBe("step");
    expect(decide(1001n * S, true, undefined, p).action).toBe("held");
  });
  test("max-change: the third consistent round steps; an inconsistent one restarts the count", () => {
    const big = 2000n * S;
    let d = decide(big, true, undefined, p);
    expect(d).toEqual({ action: "held", pending: { offsetNs: big, count: 1 } });
    d = decide(big + 100n * MS, true, d.pending, p);
    expect(d).toEqual({ action: "held", pending: { offsetNs: big, count: 2 } });
    const other = decide(big + 5n * S, true, d.pending, p);
    expect(other).toEqual({ action: "held", pending: { offsetNs: big + 5n * S, count: 1 } });
    expect(decide(big, true, d.pending, p)).toEqual({ action: "step", pending: undefined });
  });
  test("the step threshold is capped at the PLL's 500 ms", () => {
    expect(policy({ servers: [], stepThresholdMs: 2000 }).stepThresholdNs).toBe(500n * MS);
  });
});

describe("nextInterval", () => {
  test("unsynced retries double to 16 s; synced small slews double 64 s to 1024 s; a step resets", () => {
    let iv = initialIntervals(p);
    const unsynced: number[] = [];
    for (let i = 0; i < 6; i++) {
      const n = nextInterval(iv, false, "failed", undefined, p);
      unsynced.push(n.sleepMs / 1000);
      iv = n.intervals;
    }
    expect(unsynced).toEqual([1, 2, 4, 8, 16, 16]);
    const synced: number[] = [];
    let n = nextInterval(iv, true, "step", 3n * S, p);
    synced.push(n.sleepMs / 1000);
    for (let i = 0; i < 6; i++) {
      n = nextInterval(n.intervals, true, "slew", 1n * MS, p);
      synced.push(n.sleepMs / 1000);
    }
    expect(synced).toEqual([64, 128, 256, 512, 1024, 1024, 1024]);
    expect(nextInterval(n.intervals, true, "slew", 150n * MS, p).sleepMs).toBe(1_024_000); // not small: kept
    expect(nextInterval(n.intervals, true, "failed", undefined, p).sleepMs).toBe(64_000);
    expect(nextInterval(n.intervals, true, "held", undefined, p).sleepMs).toBe(64_000);
    expect(n.intervals.retryMs).toBe(1_000); // a later loss of sync starts retries from 1 s again
  });
});
