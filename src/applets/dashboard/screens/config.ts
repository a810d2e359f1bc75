// Config screen: a pending scheduled shutdown, the latest events, and the
// effective machine config (scrollable).
import { Color, type Canvas } from "../canvas.ts";
import { clock, dateTime, duration } from "../format.ts";
import type { DashboardState, NodeView } from "../state.ts";
import { line, type Rect } from "../widgets.ts";

function drawEvents(c: Canvas, r: Rect, node: NodeView): void {
  const s = node.sample;
  const events = s.events ?? [];
  c.rule(r.x, r.y, r.w, `Events (newest first)`);
  if (s.errors.events) {
    line(c, r.x, r.y + 1, r.w, `unavailable: ${s.errors.events}`, { fg: Color.Red });
    return;
  }
  const newest = events.slice(-(r.h - 1)).reverse();
  newest.forEach((e, i) => {
    const x = c.text(r.x, r.y + 1 + i, clock(e.ts) + " ", { fg: Color.Cyan });
    line(c, x, r.y + 1 + i, r.w - (x - r.x), e.text);
  });
  if (events.length === 0) line(c, r.x, r.y + 1, r.w, "no events yet", { fg: Color.White });
}

function drawConfig(c: Canvas, r: Rect, state: DashboardState, node: NodeView): void {
  const text = node.config;
  const lines = text === undefined ? [] : text.replace(/\n$/, "").split("\n");
  const page = Math.max(1, r.h - 1);
  const first = Math.max(0, Math.min(state.configScroll, lines.length - page));
  const last = Math.min(lines.length, first + page);
  c.rule(r.x, r.y, r.w, `Machine config, lines ${lines.length ? first + 1 : 0}-${last} of ${lines.length} (up/down/PgUp/PgDn)`);
  if (node.sample.errors.config) {
    line(c, r.x, r.y + 1, r.w, `unavailable: ${node.sample.errors.config}`, { fg: Color.Red });
    return;
  }
  if (text === undefined) {
    line(c, r.x, r.y + 1, r.w, "loading...", { fg: Color.White });
    return;
  }
  for (let i = first; i < last; i++) {
    const l = lines[i]!;
    // Keys in cyan, values plain: enough colour to read YAML structure at a glance.
    const m = /^(\s*(?:- )?)([^:#\s][^:]*:)(.*)$/.exec(l);
    const y = r.y + 1 + i - first;
    if (m) {
      let x = c.text(r.x, y, m[1]!, undefined, r.w);
      x = c.text(x, y, m[2]!, { fg: Color.Cyan }, r.w - (x - r.x));
      line(c, x, y, r.w - (x - r.x), m[3]!);
    } else line(c, r.x, y, r.w, l, l.trimStart().startsWith("#") ? { fg: Color.Blue, bold: true } : undefined);
  }
}

export function drawConfigScreen(c: Canvas, r: Rect, state: DashboardState, node: NodeView): void {
  const sd = node.sample.scheduledShutdown;
  if (sd) {
    const left = duration(Math.max(0, (sd.at - state.now) / 1000));
    const msg = sd.message ? `: ${sd.message}` : "";
    c.fill(r.x, r.y, r.w, 1, " ", { bg: Color.Yellow, fg: Color.Black });
    line(c, r.x + 1, r.y, r.w - 2, `Scheduled ${sd.action} at ${dateTime(sd.at)} UTC (in ${left})${msg}`, { bg: Color.Yellow, fg: Color.Black, bold: true });
  } else line(c, r.x, r.y, r.w, "No shutdown scheduled.", { fg: Color.Green });
  const body: Rect = { x: r.x, y: r.y + 1, w: r.w, h: r.h - 1 };
  if (r.w >= 160) {
    // Wide terminals: config on the left, events beside it.
    const ew = Math.floor(r.w * 0.4);
    drawConfig(c, { ...body, w: r.w - ew - 2 }, state, node);
    drawEvents(c, { ...body, x: r.x + r.w - ew, w: ew }, node);
    return;
  }
  const eh = Math.max(2, Math.min((node.sample.events?.length ?? 0) + 1, Math.floor(body.h / 3)));
  drawConfig(c, { ...body, h: body.h - eh }, state, node);
  drawEvents(c, { ...body, y: body.y + body.h - eh, h: eh }, node);
}
