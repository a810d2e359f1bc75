// Frame -> terminal bytes, rewriting only what changed since the last frame:
// per row, the span from the first to the last changed cell. That keeps a 1.5 s
// refresh flicker-free even on the Linux console at 9600-baud-era speeds.
import type { Canvas } from "./canvas.ts";

const CLEAR = "\x1b[0m\x1b[H\x1b[2J";

export class FrameWriter {
  private prev: Canvas | undefined;

  constructor(private readonly colors: boolean) {}

  /** Forget the screen contents (after a resize, or when something else drew on it). */
  invalidate(): void {
    this.prev = undefined;
  }

  /** The bytes that turn the previous frame into `next` (empty when nothing changed). */
  frame(next: Canvas): string {
    const prev = this.prev && this.prev.cols === next.cols && this.prev.rows === next.rows ? this.prev : undefined;
    let out = prev ? "" : CLEAR;
    for (let r = 0; r < next.rows; r++) {
      let first = -1;
      let last = -1;
      for (let c = 0; c < next.cols; c++) {
        const i = r * next.cols + c;
        if (!prev || prev.chars[i] !== next.chars[i] || prev.styles[i] !== next.styles[i]) {
          if (first < 0) first = c;
          last = c;
        }
      }
      if (first < 0) continue;
      out += `\x1b[${r + 1};${first + 1}H`;
      out += this.colors ? next.styledRun(r, first, last + 1) : next.chars.slice(r * next.cols + first, r * next.cols + last + 1).join("");
    }
    this.prev = next;
    return out;
  }
}
