// A bound on the share of the event loop one kind of work may take: work
// reports the time it spent, and waitMs() says how long to stay off before the
// next slice so that, over time, the work takes at most `share` of wall time
// (a leaky bucket of busy time: it fills with the time spent and drains at
// `share` ms per ms; up to `burstMs` of work may run back to back). Measured
// time rather than counted bytes or lines, because what one line costs depends
// on who follows it (the console, a Logs stream, log shipping).

export class DutyCycle {
  private debt = 0;
  private at: number;

  constructor(
    readonly share: number,
    readonly burstMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(share > 0 && share <= 1)) throw new RangeError(`duty cycle share ${share} is not in (0, 1]`);
    this.at = now();
  }

  /** Reports `ms` of work done. */
  spend(ms: number): void {
    this.drain();
    this.debt += Math.max(0, ms);
  }

  /** How long to wait before the next slice of work: 0 to go on now. */
  waitMs(): number {
    this.drain();
    return this.debt <= this.burstMs ? 0 : (this.debt - this.burstMs) / this.share;
  }

  private drain(): void {
    const t = this.now();
    this.debt = Math.max(0, this.debt - (t - this.at) * this.share);
    this.at = t;
  }
}
