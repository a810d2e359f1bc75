// A cell grid the screen renderers draw on, and its conversion to text lines.
// Only the 8 ANSI colours (+ bold for the bright half) are used: that is what
// the Linux console renders, and every terminal emulator agrees on them.

export enum Color {
  Default = -1,
  Black = 0,
  Red = 1,
  Green = 2,
  Yellow = 3,
  Blue = 4,
  Magenta = 5,
  Cyan = 6,
  White = 7,
}

export interface Style {
  fg?: Color;
  bg?: Color;
  bold?: boolean;
  inverse?: boolean;
}

/** A style packed in one number so grids compare cheaply: fg+1 | (bg+1)<<4 | bold<<8 | inverse<<9. */
export type Packed = number;

export function pack(s: Style | undefined): Packed {
  if (!s) return 0;
  return ((s.fg ?? -1) + 1) | (((s.bg ?? -1) + 1) << 4) | (s.bold ? 256 : 0) | (s.inverse ? 512 : 0);
}

/** The SGR sequence that sets exactly this style (always starting from a reset). */
export function sgr(p: Packed): string {
  const parts = ["0"];
  const fg = (p & 15) - 1;
  const bg = ((p >> 4) & 15) - 1;
  if (p & 256) parts.push("1");
  if (p & 512) parts.push("7");
  if (fg >= 0) parts.push(String(30 + fg));
  if (bg >= 0) parts.push(String(40 + bg));
  return `\x1b[${parts.join(";")}m`;
}

export class Canvas {
  readonly chars: string[];
  readonly styles: Uint16Array;

  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {
    this.chars = new Array<string>(cols * rows).fill(" ");
    this.styles = new Uint16Array(cols * rows);
  }

  /** Writes text at (x, y), clipped to the grid and to `maxWidth`; returns the column after it. */
  text(x: number, y: number, text: string, style?: Style, maxWidth = Infinity): number {
    if (y < 0 || y >= this.rows) return x;
    const p = pack(style);
    const end = Math.min(this.cols, x + Math.max(0, maxWidth));
    let col = x;
    for (const ch of text) {
      if (col >= end) break;
      if (col >= 0) {
        this.chars[y * this.cols + col] = ch;
        this.styles[y * this.cols + col] = p;
      }
      col++;
    }
    return col;
  }

  /** Fills a rectangle with one character and style. */
  fill(x: number, y: number, w: number, h: number, ch = " ", style?: Style): void {
    const p = pack(style);
    for (let r = Math.max(0, y); r < Math.min(this.rows, y + h); r++)
      for (let c = Math.max(0, x); c < Math.min(this.cols, x + w); c++) {
        this.chars[r * this.cols + c] = ch;
        this.styles[r * this.cols + c] = p;
      }
  }

  /** A section title rule: "-- Title ----------". Box-drawing lines exist in the console font. */
  rule(x: number, y: number, w: number, title: string, style?: Style): void {
    this.fill(x, y, w, 1, "─", { fg: Color.Blue });
    this.text(x + 1, y, ` ${title} `, style ?? { bold: true, fg: Color.Cyan }, w - 2);
  }

  /** Plain text of each row: what a person reads (and what tests assert on). */
  plainLines(): string[] {
    const out: string[] = [];
    for (let r = 0; r < this.rows; r++) out.push(this.chars.slice(r * this.cols, (r + 1) * this.cols).join(""));
    return out;
  }

  /** Each row with SGR sequences, ending in a reset. */
  styledLines(): string[] {
    const out: string[] = [];
    for (let r = 0; r < this.rows; r++) out.push(this.styledRun(r, 0, this.cols));
    return out;
  }

  /** Columns [from, to) of row r as text with the SGR changes it needs, starting from a reset. */
  styledRun(r: number, from: number, to: number): string {
    let s = "";
    let cur = -1;
    for (let c = from; c < to; c++) {
      const p = this.styles[r * this.cols + c]!;
      if (p !== cur) {
        s += sgr(p);
        cur = p;
      }
      s += this.chars[r * this.cols + c];
    }
    return s + (cur > 0 ? "\x1b[0m" : "");
  }
}
