// Rows measured in interleaved rounds. On a shared machine one long run of
// samples is mostly the neighbours' noise; instead each round measures minos
// and its peer back to back (the order swapped every round), and a row reports
// the median of the round values with their spread (min–max), and the median
// of the per-round ratios. A target counts as met only when it holds in every
// round.
import { quantile } from "./stats.ts";

export interface Target {
  /** "ratio": minos / peer per round; "minos": minos's own value per round. */
  of: "ratio" | "minos";
  op: "<=" | ">=";
  value: number;
  /** As printed, e.g. "≤ 1.5× containerd". */
  text: string;
}

export interface RoundRow {
  name: string;
  unit: string;
  digits: number;
  minos: number[];
  /** The peer or bound the ratio is taken against; absent for rows without one. */
  peer?: { name: string; values: number[] };
  /** Other peers shown beside the first (no ratio). */
  others?: { name: string; values: number[]; digits?: number }[];
  target?: Target;
  note?: string;
}

export interface RowSummary {
  minos: Spread;
  peer?: Spread;
  ratio?: Spread;
  target?: { text: string; met: number; rounds: number };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), min: s[0] ?? Number.NaN, max: s.at(-1) ?? Number.NaN, values };
}

export function ratios(row: RoundRow): number[] {
  if (!row.peer) return [];
  return row.minos.map((m, i) => m / row.peer!.values[i]!);
}

function holds(t: Target, v: number): boolean {
  return t.op === "<=" ? v <= t.value : v >= t.value;
}

export function summarizeRow(row: RoundRow): RowSummary {
  const r = ratios(row);
  const out: RowSummary = { minos: spread(row.minos) };
  if (row.peer) {
    out.peer = spread(row.peer.values);
    out.ratio = spread(r);
  }
  if (row.target) {
    const per = row.target.of === "ratio" ? r : row.minos;
    out.target = { text: row.target.text, met: per.filter((v) => holds(row.target!, v)).length, rounds: per.length };
  }
  return out;
}

/** "12.3 ms (11.9–13.0)"; one round prints just its value. */
export function cell(s: Spread, unit: string, digits: number): string {
  const v = (x: number) => x.toFixed(digits);
  const u = unit ? ` ${unit}` : "";
  return s.values.length > 1 ? `${v(s.median)}${u} (${v(s.min)}–${v(s.max)})` : `${v(s.median)}${u}`;
}

export function ratioCell(s: Spread): string {
  return s.values.length > 1 ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : `${s.median.toFixed(2)}×`;
}

/** The printed cells of a row: name, minos, peer / bound, ratio, target. */
export function rowCells(row: RoundRow): string[] {
  const s = summarizeRow(row);
  const peers = [
    ...(row.peer && s.peer ? [`${row.peer.name} ${cell(s.peer, row.unit, row.digits)}`] : []),
    ...(row.others ?? []).map((o) => `${o.name} ${cell(spread(o.values), row.unit, o.digits ?? row.digits)}`),
  ];
  const target = s.target ? `${s.target.text}: ${s.target.met === s.target.rounds ? "met" : "NOT met"} (${s.target.met}/${s.target.rounds} rounds)` : "—";
  return [row.name, cell(s.minos, row.unit, row.digits), peers.join("; ") || (row.note ?? "—"), s.ratio ? ratioCell(s.ratio) : "—", target];
}

/** Runs `a` and `b` in round `r`, swapping which goes first every round (ABBA), so drift hits both alike. */
export async function pair<A, B>(r: number, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> {
  if (r % 2 === 0) {
    const x = await a();
    return [x, await b()];
  }
  const y = await b();
  return [await a(), y];
}
