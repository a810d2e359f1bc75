// Who moves the clock. The sync loop decides WHAT to do (step or slew, by how
// much); an adjuster does it. Injected, because the sandbox and every test share
// the host's CLOCK_REALTIME (clocks are not namespaced): there only the logOnly
// adjuster may be used. systemAdjuster is for a node on its own kernel.
import { readRealtimeNs, setRealtime, slewClock, stepClock } from "../sys/clock.ts";
import { SysError } from "../sys/errno.ts";
import type { Clock } from "./deps.ts";

export interface Adjustment {
  offsetNs: bigint;
  /** Our error bound for the new time (delay / 2 + the server's root distance), µs. */
  maxErrorUs: number;
  estErrorUs: number;
  /** The current poll interval: the PLL's time constant follows it (ntpd's rule). */
  pollMs: number;
}

/** log2(poll in s) - 4, as ntpd sets it in nanosecond mode: 64 s -> 2, 1024 s -> 6. */
export function pllTimeConstant(pollMs: number): number {
  return Math.min(10, Math.max(0, Math.round(Math.log2(Math.max(1, pollMs / 1000))) - 4));
}

export interface ClockAdjuster {
  /** "system" or "log-only", for logs and the API. */
  readonly kind: string;
  /** Jump the clock by `offsetNs` now. */
  step(a: Adjustment): void;
  /** Steer the clock by `offsetNs` gradually (|offset| <= 0.5 s, the kernel's limit). */
  slew(a: Adjustment): void;
}

/** The machine's clock: CLOCK_REALTIME read through clock_gettime. */
export const systemClock: Clock = { realtimeNs: readRealtimeNs };

const EINVAL = 22;

/**
 * Disciplines the machine's clock. A step is adjtimex(ADJ_SETOFFSET), relative
 * and atomic in the kernel; on a kernel that refuses it (EINVAL: older than
 * 2.6.39) clock_settime(now + offset), whose error is the few µs between the
 * read and the call. A slew is the kernel PLL (ADJ_OFFSET with STA_PLL), which
 * also marks the clock synchronised so the kernel keeps the RTC in step.
 * NEVER use outside a VM or real machine.
 */
export function systemAdjuster(): ClockAdjuster {
  return {
    kind: "system",
    step(a) {
      try {
        stepClock(a.offsetNs);
      } catch (e) {
        if (!(e instanceof SysError) || e.errno !== EINVAL) throw e;
        setRealtime(readRealtimeNs() + a.offsetNs);
      }
      // Tell the PLL the new phase is right, with our error bound (offset 0).
      slewClock(0n, a.maxErrorUs, a.estErrorUs, pllTimeConstant(a.pollMs));
    },
    slew(a) {
      slewClock(a.offsetNs, a.maxErrorUs, a.estErrorUs, pllTimeConstant(a.pollMs));
    },
  };
}

export interface LoggedAdjustment extends Adjustment {
  kind: "step" | "slew";
}

/**
 * A clock that never touches the machine: it reads `base` plus the adjustments
 * applied so far, and logs each one. The sync loop then behaves as on a real
 * node (after a +1 h step it reads the corrected time and the next sample shows
 * an offset near 0), while CLOCK_REALTIME stays as it is. A slew is applied
 * at once, as if the kernel had finished it.
 */
export function logOnlyClock(base: Clock, log: (line: string) => void = () => {}): { clock: Clock; adjuster: ClockAdjuster; applied: LoggedAdjustment[] } {
  let correctionNs = 0n;
  const applied: LoggedAdjustment[] = [];
  const record = (kind: "step" | "slew", a: Adjustment) => {
    applied.push({ kind, ...a });
    correctionNs += a.offsetNs;
    log(`time: would ${kind} the clock by ${(Number(a.offsetNs) / 1e6).toFixed(3)} ms (log-only adjuster, clock untouched)`);
  };
  return {
    clock: { realtimeNs: () => base.realtimeNs() + correctionNs },
    adjuster: { kind: "log-only", step: (a) => record("step", a), slew: (a) => record("slew", a) },
    applied,
  };
}
