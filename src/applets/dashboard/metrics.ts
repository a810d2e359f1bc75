// Turns two successive cumulative samples into what a person reads: CPU use,
// per-process CPU share, network and disk rates. Pure functions.
import type { CpuTimes, DiskSample, NetSample, ProcessSample } from "./source.ts";

/** Fraction of CPU time spent busy between two samples (0..1), undefined without a previous one. */
export function cpuUsage(prev: CpuTimes | undefined, cur: CpuTimes | undefined): number | undefined {
  if (!prev || !cur) return undefined;
  const total = cur.total - prev.total;
  if (total <= 0) return undefined;
  return clamp01((cur.busy - prev.busy) / total);
}

export interface ProcessRow extends ProcessSample {
  /** Share of one CPU over the interval (1 = one core busy), undefined on the first sample. */
  cpu: number | undefined;
}

export function processRows(prev: ProcessSample[] | undefined, cur: ProcessSample[], seconds: number): ProcessRow[] {
  const before = new Map((prev ?? []).map((p) => [p.pid, p.cpuSeconds]));
  return cur.map((p) => {
    const was = before.get(p.pid);
    const cpu = was === undefined || seconds <= 0 ? undefined : Math.max(0, (p.cpuSeconds - was) / seconds);
    return { ...p, cpu };
  });
}

export type ProcessSort = "cpu" | "mem";

/** Highest first; pid breaks ties so the order is stable between frames. */
export function sortProcesses(rows: ProcessRow[], by: ProcessSort): ProcessRow[] {
  const key = (r: ProcessRow) => (by === "cpu" ? (r.cpu ?? -1) : r.residentBytes);
  return [...rows].sort((a, b) => key(b) - key(a) || a.pid - b.pid);
}

export interface RateRow {
  name: string;
  /** rx for interfaces, read for disks; bytes per second. */
  in: number | undefined;
  out: number | undefined;
  inTotal: number;
  outTotal: number;
}

function rates<T extends { name: string }>(prev: T[] | undefined, cur: T[], seconds: number, inOf: (t: T) => number, outOf: (t: T) => number): RateRow[] {
  const before = new Map((prev ?? []).map((p) => [p.name, p]));
  return cur.map((c) => {
    const p = before.get(c.name);
    const per = (now: number, then: number | undefined) => (then === undefined || seconds <= 0 || now < then ? undefined : (now - then) / seconds);
    return {
      name: c.name,
      in: per(inOf(c), p && inOf(p)),
      out: per(outOf(c), p && outOf(p)),
      inTotal: inOf(c),
      outTotal: outOf(c),
    };
  });
}

export function netRates(prev: NetSample[] | undefined, cur: NetSample[], seconds: number): RateRow[] {
  return rates(
    prev,
    cur,
    seconds,
    (n) => n.rxBytes,
    (n) => n.txBytes,
  );
}

export function diskRates(prev: DiskSample[] | undefined, cur: DiskSample[], seconds: number): RateRow[] {
  return rates(
    prev,
    cur,
    seconds,
    (d) => d.readBytes,
    (d) => d.writeBytes,
  );
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
