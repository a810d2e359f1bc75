// state -> screen. A pure function: the same state and size always give the
// same cells, so tests assert on text and the writer diffs frames.
import { Canvas, Color } from "./canvas.ts";
import { clock, duration, fit } from "./format.ts";
import { drawConfigScreen } from "./screens/config.ts";
import { drawMonitor } from "./screens/monitor.ts";
import { drawSummary } from "./screens/summary.ts";
import type { DashboardState, ScreenName } from "./state.ts";
import { line, type Rect } from "./widgets.ts";

export const MIN_COLS = 80;
export const MIN_ROWS = 24;

export interface RenderOptions {
  cols: number;
  rows: number;
  /** false: plain text (tests, dumb terminals); true: SGR colour sequences. */
  colors: boolean;
}

const TABS: [ScreenName, string][] = [
  ["summary", "F1 Summary"],
  ["monitor", "F2 Monitor"],
  ["config", "F3 Config"],
];

function tooSmall(c: Canvas): void {
  const msg = [`terminal too small: ${c.cols}x${c.rows}`, `the dashboard needs at least ${MIN_COLS}x${MIN_ROWS}`];
  const y0 = Math.max(0, Math.floor(c.rows / 2) - 1);
  msg.forEach((m, i) => {
    const text = fit(m, c.cols);
    c.text(Math.max(0, Math.floor((c.cols - text.length) / 2)), y0 + i, text, { bold: true, fg: Color.Yellow });
  });
}

function tabBar(c: Canvas, state: DashboardState): void {
  c.fill(0, 0, c.cols, 1, " ", { inverse: true });
  let x = c.text(0, 0, " minos ", { inverse: true, bold: true });
  for (const [screen, label] of TABS) {
    x = c.text(x, 0, ` ${label} `, screen === state.screen ? { bold: true, fg: Color.White, bg: Color.Blue } : { inverse: true });
    x += 1;
  }
  const host = state.node?.sample.hostname;
  const right = `${host ? host + "  " : ""}${clock(state.now)} UTC `;
  if (x + right.length < c.cols) c.text(c.cols - right.length, 0, right, { inverse: true, bold: true });
}

/** Row 1 always holds the connection status, so the layout never jumps when it changes. */
function statusLine(c: Canvas, state: DashboardState): void {
  const conn = state.conn;
  switch (conn.status) {
    case "connected": {
      const age = state.node ? `  updated ${clock(state.node.receivedAt)}` : "";
      line(c, 1, 1, c.cols - 2, `connected: ${state.endpoint}${age}, every ${state.intervalMs / 1000}s`, { fg: Color.Green });
      return;
    }
    case "connecting":
      c.fill(0, 1, c.cols, 1, " ", { bg: Color.Yellow });
      line(c, 1, 1, c.cols - 2, `connecting to ${state.endpoint} (attempt ${conn.attempt})...`, { bg: Color.Yellow, fg: Color.Black, bold: true });
      return;
    case "disconnected": {
      const wait = Math.max(0, Math.ceil((conn.retryAt - state.now) / 1000));
      const when = wait > 0 ? `reconnecting in ${duration(wait)}` : "reconnecting now";
      const stale = state.node ? `; data below is from ${clock(state.node.receivedAt)}` : "";
      c.fill(0, 1, c.cols, 1, " ", { bg: Color.Red });
      line(c, 1, 1, c.cols - 2, `DISCONNECTED - ${when} (attempt ${conn.attempt}) - ${conn.error} - ${state.endpoint}${stale}`, {
        bg: Color.Red,
        fg: Color.White,
        bold: true,
      });
      return;
    }
  }
}

function footer(c: Canvas, state: DashboardState): void {
  const y = c.rows - 1;
  const keys = ["F1-F3/1-3 screens", "s sort", "up/down/PgUp/PgDn scroll"];
  keys.push(state.console ? "console: exit keys off" : "q quit");
  c.fill(0, y, c.cols, 1, " ", { inverse: true });
  line(c, 1, y, c.cols - 2, keys.join("   "), { inverse: true });
}

export function renderCanvas(state: DashboardState, cols: number, rows: number): Canvas {
  const c = new Canvas(Math.max(1, cols), Math.max(1, rows));
  if (cols < MIN_COLS || rows < MIN_ROWS) {
    tooSmall(c);
    return c;
  }
  tabBar(c, state);
  statusLine(c, state);
  footer(c, state);
  const body: Rect = { x: 1, y: 2, w: cols - 2, h: rows - 3 };
  const node = state.node;
  if (!node) {
    line(c, body.x, body.y + Math.floor(body.h / 2), body.w, `waiting for the first answer from ${state.endpoint}...`, { fg: Color.Yellow });
    return c;
  }
  switch (state.screen) {
    case "summary":
      drawSummary(c, body, state, node);
      break;
    case "monitor":
      drawMonitor(c, body, state, node);
      break;
    case "config":
      drawConfigScreen(c, body, state, node);
      break;
  }
  return c;
}

/** The screen as `rows` lines of exactly `cols` columns. */
export function render(state: DashboardState, opts: RenderOptions): string[] {
  const c = renderCanvas(state, opts.cols, opts.rows);
  return opts.colors ? c.styledLines() : c.plainLines();
}

/** Lines a PgUp/PgDn moves on the Config screen at this size. */
export function configPage(rows: number): number {
  return Math.max(1, rows - 12);
}
