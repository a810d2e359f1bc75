// Monitor screen: processes by CPU or memory, interface and disk rates.
import { Color, type Canvas } from "../canvas.ts";
import { bytes, percent, rate } from "../format.ts";
import { sortProcesses, type RateRow } from "../metrics.ts";
import type { DashboardState, NodeView } from "../state.ts";
import { line, table, type Rect } from "../widgets.ts";

function rateTable(c: Canvas, r: Rect, title: string, names: [string, string, string], rows: RateRow[], error: string | undefined): void {
  c.rule(r.x, r.y, r.w, title);
  if (error) {
    line(c, r.x, r.y + 1, r.w, `unavailable: ${error}`, { fg: Color.Red });
    return;
  }
  const wide = r.w >= 70;
  table(
    c,
    { x: r.x, y: r.y + 1, w: r.w, h: r.h - 1 },
    [
      { title: names[0], width: "flex" },
      { title: names[1], width: 12, align: "right" },
      { title: names[2], width: 12, align: "right" },
      ...(wide
        ? [
            { title: "TOTAL " + names[1].replace("/s", ""), width: 11, align: "right" as const },
            { title: "TOTAL " + names[2].replace("/s", ""), width: 11, align: "right" as const },
          ]
        : []),
    ],
    rows.map((row) => [
      { text: row.name, style: { bold: true } },
      { text: rate(row.in), style: { fg: Color.Green } },
      { text: rate(row.out), style: { fg: Color.Yellow } },
      ...(wide ? [{ text: bytes(row.inTotal) }, { text: bytes(row.outTotal) }] : []),
    ]),
  );
}

export function drawMonitor(c: Canvas, r: Rect, state: DashboardState, node: NodeView): void {
  const s = node.sample;
  const net = node.net;
  const disks = node.disks;
  // Interfaces and disks share the bottom; processes get the rest (at least half).
  const bottom = Math.min(Math.max(net.length, disks.length, 1) + 2, Math.floor(r.h * 0.4));
  const procHeight = r.h - bottom;

  const other = state.sort === "cpu" ? "memory" : "CPU";
  c.rule(r.x, r.y, r.w, `Processes (${node.processes.length}) by ${state.sort === "cpu" ? "CPU" : "memory"} - s: sort by ${other}`);
  if (s.errors.processes) line(c, r.x, r.y + 1, r.w, `unavailable: ${s.errors.processes}`, { fg: Color.Red });
  else {
    const sorted = sortProcesses(node.processes, state.sort);
    const active = { bold: true, fg: Color.Cyan };
    table(
      c,
      { x: r.x, y: r.y + 1, w: r.w, h: procHeight - 1 },
      [
        { title: "PID", width: 7, align: "right" },
        { title: "S", width: 1 },
        { title: "THR", width: 4, align: "right" },
        { title: state.sort === "cpu" ? "CPU%*" : "CPU%", width: 6, align: "right" },
        { title: state.sort === "mem" ? "RSS*" : "RSS", width: 9, align: "right" },
        { title: "COMMAND", width: r.w >= 120 ? 20 : 14 },
        { title: "ARGS", width: "flex" },
      ],
      sorted.map((p) => [
        { text: String(p.pid) },
        { text: p.state },
        { text: String(p.threads) },
        { text: percent(p.cpu), style: state.sort === "cpu" ? active : undefined },
        { text: bytes(p.residentBytes), style: state.sort === "mem" ? active : undefined },
        { text: p.command, style: { bold: true } },
        { text: p.args },
      ]),
    );
  }

  const y = r.y + procHeight;
  const half = Math.floor((r.w - 2) / 2);
  rateTable(c, { x: r.x, y, w: half, h: bottom }, `Network (${net.length})`, ["INTERFACE", "RX/s", "TX/s"], net, s.errors.net);
  rateTable(c, { x: r.x + half + 2, y, w: r.w - half - 2, h: bottom }, `Disks (${disks.length})`, ["DEVICE", "READ/s", "WRITE/s"], disks, s.errors.disks);
}
