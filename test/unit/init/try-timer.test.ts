// The try period's timer (lib/timers afterMs): fires once after its delay,
// never at once for a delay past setTimeout's 2^31-1 ms limit, and not at all
// once cancelled. The bound itself (MAX_TRY_MS) is below that limit and far
// above Talos's 1 min default.
import { describe, expect, test } from "bun:test";
import { MAX_TRY_MS } from "../../../src/node/config.ts";
import { afterMs, MAX_TIMER_MS } from "../../../src/lib/timers.ts";

describe("try timer", () => {
  test("fires once, not before its delay", async () => {
    const t0 = performance.now();
    let fired = 0;
    let at = 0;
    afterMs(120, () => {
      fired++;
      at = performance.now() - t0;
    });
    await Bun.sleep(60);
    expect(fired).toBe(0);
    await Bun.sleep(200);
    expect(fired).toBe(1);
    expect(at).toBeGreaterThanOrEqual(119);
  });

  test("a delay past 2^31-1 ms does not fire at once (setTimeout alone would, with a TimeoutOverflowWarning)", async () => {
    let fired = false;
    const a = afterMs(2 ** 31 + 1000, () => (fired = true));
    const b = afterMs(1e15, () => (fired = true));
    await Bun.sleep(100);
    expect(fired).toBe(false);
    a.cancel();
    b.cancel();
  });

  test("cancelled: never fires", async () => {
    let fired = false;
    afterMs(30, () => (fired = true)).cancel();
    await Bun.sleep(80);
    expect(fired).toBe(false);
  });

  test("the bound: 24 h, below one timer's reach", () => {
    expect(MAX_TRY_MS).toBe(86_400_000);
    expect(MAX_TRY_MS).toBeLessThan(MAX_TIMER_MS);
  });
});
