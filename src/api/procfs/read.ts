// Reading /proc: files whose lines are "key value" or whitespace-separated columns.
import { readFileSync } from "node:fs";

export const PROC = "/proc";

export function readProc(rel: string): string {
  return readFileSync(`${PROC}/${rel}`, "utf8");
}

/** Splits on runs of whitespace, ignoring leading/trailing blanks. */
export function fields(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

export function num(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
}
