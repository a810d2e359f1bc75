// Summary screen: who the node is, how busy it is, its services and its log.
import { Color, type Canvas, type Style } from "../canvas.ts";
import { bytes, duration, percent } from "../format.ts";
import type { DashboardState, NodeView } from "../state.ts";
import { graph, line, pairs, table, type Rect } from "../widgets.ts";

export function stateStyle(state: string): Style {
  switch (state) {
    case "Running":
      return { fg: Color.Green, bold: true };
    case "Failed":
      return { fg: Color.Red, bold: true };
    case "Finished":
    case "Skipped":
      return { fg: Color.White };
    default:
      return { fg: Color.Yellow };
  }
}

function health(h: boolean | undefined): [string, Style] {
  if (h === undefined) return ["?", { fg: Color.White }];
  return h ? ["OK", { fg: Color.Green }] : ["FAIL", { fg: Color.Red, bold: true }];
}

export function drawSummary(c: Canvas, r: Rect, state: DashboardState, node: NodeView): void {
  const s = node.sample;
  let y = r.y;
  pairs(c, r.x, y++, r.w, [
    ["Host", s.hostname, { bold: true }],
    ["Version", s.version],
    ["Kernel", s.kernel ?? "-"],
    ["Uptime", s.bootTime === undefined ? "-" : duration((state.now - s.bootTime) / 1000)],
  ]);
  pairs(c, r.x, y++, r.w, [
    ["Load", s.load ? s.load.map((l) => l.toFixed(2)).join(" ") : "-"],
    ["Processes", s.processCount === undefined ? "-" : String(s.processCount)],
    ["CPUs", s.cpuCount === undefined ? "-" : String(s.cpuCount)],
  ]);
  // Where to point minosctl: the node's global addresses (a node without the call shows no line).
  if (s.addresses) pairs(c, r.x, y++, r.w, [["Addresses", s.addresses.join(", ") || "-"]]);

  // CPU and memory side by side, each a label line over a history graph.
  const gh = Math.max(2, Math.min(6, Math.floor(r.h / 9)));
  const half = Math.floor((r.w - 2) / 2);
  const mem = s.memory;
  pairs(c, r.x, y, half, [["CPU", percent(node.cpu)]]);
  pairs(c, r.x + half + 2, y, r.w - half - 2, [
    ["Memory", mem ? `${bytes(mem.totalBytes - mem.availableBytes)} / ${bytes(mem.totalBytes)} (${percent(node.memHistory.at(-1))})` : "-"],
  ]);
  y++;
  graph(c, { x: r.x, y, w: half, h: gh }, node.cpuHistory, { fg: Color.Green });
  graph(c, { x: r.x + half + 2, y, w: r.w - half - 2, h: gh }, node.memHistory, { fg: Color.Magenta });
  y += gh;

  // Services take what they need, leaving the log at least 4 lines.
  const rest = r.y + r.h - y;
  const services = s.services ?? [];
  const svcHeight = Math.min(services.length + 2, Math.max(3, rest - 5));
  c.rule(r.x, y, r.w, `Services (${services.length})`);
  if (s.errors.services) line(c, r.x, y + 1, r.w, `unavailable: ${s.errors.services}`, { fg: Color.Red });
  else
    table(
      c,
      { x: r.x, y: y + 1, w: r.w, h: svcHeight - 1 },
      [
        { title: "SERVICE", width: 16 },
        { title: "STATE", width: 12 },
        { title: "HEALTH", width: 6 },
        { title: "MESSAGE", width: "flex" },
      ],
      services.map((svc) => {
        const [h, hs] = health(svc.healthy);
        return [{ text: svc.id, style: { bold: true } }, { text: svc.state, style: stateStyle(svc.state) }, { text: h, style: hs }, { text: svc.message }];
      }),
    );
  y += svcHeight;

  const logHeight = r.y + r.h - y;
  if (logHeight < 2) return;
  c.rule(r.x, y, r.w, "Node log (machined)");
  y++;
  if (s.errors.log) {
    line(c, r.x, y, r.w, `unavailable: ${s.errors.log}`, { fg: Color.Red });
    return;
  }
  const log = (s.log ?? []).slice(-(logHeight - 1));
  log.forEach((l, i) => line(c, r.x, y + i, r.w, l));
}
