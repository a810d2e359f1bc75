// Number and text formatting shared by the screen renderers. Pure; ASCII only
// (the Linux console's font is the limit of what we may print).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 -> "1.5 KiB"; one decimal below 100, none above, so widths stay steady. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  const digits = i === 0 || n >= 100 ? 0 : 1;
  return `${n.toFixed(digits)} ${UNITS[i]}`;
}

/** A per-second rate, e.g. "12.0 KiB/s". */
export function rate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond === undefined ? "-" : `${bytes(bytesPerSecond)}/s`;
}

export function percent(fraction: number | undefined, digits = 1): string {
  return fraction === undefined || !Number.isFinite(fraction) ? "-" : `${(fraction * 100).toFixed(digits)}%`;
}

/** Seconds -> "3d 04h", "2h 03m", "5m 07s", "42s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v: number) => String(v).padStart(2, "0");
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

/** Wall-clock time of an epoch-ms instant, UTC (nodes run in UTC, as Talos). */
export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** "2025-01-02 03:04:05" UTC. */
export function dateTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Cuts to `width` columns, marking the cut with "~" so a reader sees it. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  if (text.length <= width) return text;
  return width === 1 ? "~" : text.slice(0, width - 1) + "~";
}

/** Replaces control characters and tabs so a log line can never move the cursor. */
export function printable(text: string): string {
  return text.replace(/\t/g, "  ").replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}
