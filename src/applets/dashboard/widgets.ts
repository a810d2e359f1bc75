// Drawing helpers shared by the screens: tables, history graphs, key/value
// strips. They draw into a rectangle of a Canvas and never outside it.
import { type Canvas, Color, type Style } from "./canvas.ts";
import { fit, printable } from "./format.ts";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Column {
  title: string;
  /** Fixed width; exactly one column per table may be "flex" (takes what is left). */
  width: number | "flex";
  align?: "left" | "right";
}

export interface Cell {
  text: string;
  style?: Style;
}

const HEADER: Style = { bold: true, fg: Color.White };

/**
 * Draws a header row and as many rows as fit; when rows are cut, the last line
 * says how many more there are. Returns the number of lines used.
 */
export function table(c: Canvas, r: Rect, columns: Column[], rows: Cell[][]): number {
  if (r.h <= 0) return 0;
  const fixed = columns.reduce((n, col) => n + (col.width === "flex" ? 0 : col.width + 1), 0);
  const flex = Math.max(0, r.w - fixed);
  const widths = columns.map((col) => (col.width === "flex" ? flex : col.width));
  const put = (y: number, cells: Cell[], headerRow: boolean) => {
    let x = r.x;
    cells.forEach((cell, i) => {
      const w = Math.min(widths[i] ?? 0, r.x + r.w - x);
      if (w <= 0) return;
      const text = fit(printable(cell.text), w);
      const pad = columns[i]?.align === "right" ? " ".repeat(w - text.length) + text : text;
      c.text(x, y, pad, headerRow ? HEADER : cell.style, w);
      x += w + 1;
    });
  };
  put(
    r.y,
    columns.map((col) => ({ text: col.title })),
    true,
  );
  const room = r.h - 1;
  const cut = rows.length > room;
  const shown = cut ? rows.slice(0, Math.max(0, room - 1)) : rows;
  shown.forEach((row, i) => put(r.y + 1 + i, row, false));
  if (cut && room > 0) c.text(r.x, r.y + room, `... ${rows.length - shown.length} more`, { fg: Color.Cyan }, r.w);
  return 1 + shown.length + (cut && room > 0 ? 1 : 0);
}

/**
 * A bar graph of fractions (0..1), newest at the right, two levels per row
 * ("▄" half, "█" full): both glyphs are in the Linux console's font, unlike
 * the eighth-blocks or braille that xterm-only dashboards use.
 */
export function graph(c: Canvas, r: Rect, history: number[], style: Style): void {
  const levels = r.h * 2;
  const values = history.slice(Math.max(0, history.length - r.w));
  const x0 = r.x + r.w - values.length;
  values.forEach((v, i) => {
    let level = Math.round(Math.min(1, Math.max(0, v)) * levels);
    if (level === 0 && v > 0.005) level = 1;
    for (let row = 0; row < r.h; row++) {
      const y = r.y + r.h - 1 - row;
      const ch = level >= 2 * (row + 1) ? "█" : level === 2 * row + 1 ? "▄" : " ";
      if (ch !== " ") c.text(x0 + i, y, ch, style);
    }
  });
  // A baseline so an idle node still shows a graph is there.
  for (let x = r.x; x < x0; x++) c.text(x, r.y + r.h - 1, "_", { fg: Color.Blue });
}

/** "Label value   Label value" pairs on one line; labels bold. Returns the column after the last. */
export function pairs(c: Canvas, x: number, y: number, w: number, items: [string, string, Style?][]): number {
  let col = x;
  const end = x + w;
  for (const [label, value, style] of items) {
    if (col >= end) break;
    col = c.text(col, y, label + " ", { bold: true, fg: Color.Cyan }, end - col);
    col = c.text(col, y, value, style, end - col);
    col += 3;
  }
  return col;
}

/** A line of text in a rectangle, cut to its width. */
export function line(c: Canvas, x: number, y: number, w: number, text: string, style?: Style): void {
  c.text(x, y, fit(printable(text), w), style, w);
}
