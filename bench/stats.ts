// Summaries of repeated measurements. Absolute times drift on a shared machine;
// the ratio between peers measured interleaved in the same run holds.

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9), min: s[0] ?? NaN, max: s.at(-1) ?? NaN };
}

/** "12.3 ms (11.9–13.0)" : median and p10–p90 spread. */
export function fmt(s: Summary, unit: string, digits = 1): string {
  return `${s.median.toFixed(digits)} ${unit} (${s.p10.toFixed(digits)}–${s.p90.toFixed(digits)})`;
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** Runs each named measurement `rounds` times, interleaved, so drift hits all peers alike. */
export function interleaved<K extends string>(rounds: number, peers: Record<K, () => number>): Record<K, Summary> {
  const samples = Object.fromEntries(Object.keys(peers).map((k) => [k, [] as number[]])) as unknown as Record<K, number[]>;
  const keys = Object.keys(peers) as K[];
  // The order rotates every pass, so no side always runs first or right after the same other one.
  for (let r = 0; r < rounds; r++)
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(i + r) % keys.length]!;
      samples[k].push(peers[k]());
    }
  return Object.fromEntries(keys.map((k) => [k, summarize(samples[k])])) as Record<K, Summary>;
}
