// The dashboard's renderer: state -> screen text, at the console's 80x25 and a
// large 200x50, for every screen and the bad states.
import { describe, expect, test } from "bun:test";
import { render } from "../../../../src/applets/dashboard/render.ts";
import { applySample, disconnected, initialState, reduce, type DashboardState } from "../../../../src/applets/dashboard/state.ts";
import { liveState, sample, T0 } from "../../../helpers/dashboard-fixture.ts";

const SIZES = [
  { cols: 80, rows: 25 },
  { cols: 200, rows: 50 },
];

function screen(state: DashboardState, cols: number, rows: number): string[] {
  return render(state, { cols, rows, colors: false });
}

const rowOf = (lines: string[], needle: string | RegExp) => lines.findIndex((l) => (typeof needle === "string" ? l.includes(needle) : needle.test(l)));

describe.each(SIZES)("at $cols x $rows", ({ cols, rows }) => {
  test("every line is exactly the terminal's width, and there are exactly `rows` lines", () => {
    for (const s of ["summary", "monitor", "config"] as const) {
      const lines = screen({ ...liveState(), screen: s }, cols, rows);
      expect(lines).toHaveLength(rows);
      for (const l of lines) expect([...l]).toHaveLength(cols);
    }
  });

  test("Summary: the node's addresses on a line of their own (none: -); a node without the call shows no such line", () => {
    const text = screen(liveState(40, { addresses: ["eth0 10.0.2.15/24", "eth0 fec0::5054:ff:fe12:3456/64"] }), cols, rows).join("\n");
    expect(text).toContain("Addresses eth0 10.0.2.15/24, eth0 fec0::5054:ff:fe12:3456/64");
    expect(screen(liveState(40, { addresses: [] }), cols, rows).join("\n")).toContain("Addresses -");
    expect(screen(liveState(), cols, rows).join("\n")).not.toContain("Addresses");
  });

  test("Summary: identity, load, CPU/memory, every service with state and health, newest log lines", () => {
    const text = screen(liveState(), cols, rows).join("\n");
    expect(text).toContain("Host node-1");
    expect(text).toContain("Version v0.1.0 (3f9c2d1)");
    expect(text).toContain("Kernel 6.1.0-18-amd64");
    expect(text).toContain("Uptime 2h 03m");
    expect(text).toContain("Load 0.42 0.35 0.30");
    expect(text).toContain("Processes 142");
    expect(text).toMatch(/CPU \d+\.\d%/);
    expect(text).toMatch(/Memory 2\.2 GiB \/ 8\.0 GiB/);
    const lines = text.split("\n");
    for (const id of ["apid", "containerd", "cri", "etcd", "kubelet", "machined", "trustd", "udevd"]) {
      expect(rowOf(lines, new RegExp(`^ ${id}\\s`))).toBeGreaterThan(0);
    }
    expect(lines[rowOf(lines, /^ containerd\s/)]).toMatch(/containerd\s+Running\s+OK\s+Health check successful/);
    expect(lines[rowOf(lines, /^ trustd\s/)]).toMatch(/trustd\s+Waiting\s+\?/);
    // The newest log lines are on screen, oldest first.
    expect(rowOf(lines, "config: applied (no reboot needed)")).toBeGreaterThan(rowOf(lines, "api: listening on :50000"));
    expect(rowOf(lines, "api: listening on :50000")).toBeGreaterThan(rowOf(lines, "Node log"));
    expect(lines[rows - 1]).toContain("q quit");
  });

  test("Summary draws a history graph from past samples", () => {
    const lines = screen(liveState(), cols, rows);
    const graphRows = lines.filter((l) => /[▄█]/.test(l));
    expect(graphRows.length).toBeGreaterThanOrEqual(1);
    // The first sample has no CPU delta: the CPU half holds only the baseline.
    const first = applySample(initialState({ endpoint: "e", now: T0 }), sample(0), T0);
    const cpuHalf = (l: string) => l.slice(0, Math.floor(cols / 2));
    expect(screen(first, cols, rows).some((l) => /[▄█]/.test(cpuHalf(l)))).toBe(false);
    expect(lines.some((l) => /[▄█]/.test(cpuHalf(l)))).toBe(true);
  });

  test("Monitor: processes sorted by CPU, then by memory after `s`", () => {
    const byCpu = screen(reduce(liveState(), { type: "screen", screen: "monitor" }), cols, rows);
    const cmdOrder = (lines: string[]) =>
      lines
        .map((l) => /^\s+\d+ [RS]\s+\d+\s+\S+\s+\S+ \S+\s+(\S+)/.exec(l)?.[1])
        .filter((c): c is string => c !== undefined)
        .map((c) => c.replace(/~$/, ""));
    expect(byCpu.join("\n")).toContain("by CPU");
    // kubelet burns 1.2 s/s, containerd 0.9, etcd 0.3.
    expect(cmdOrder(byCpu).slice(0, 3)).toEqual(["kubelet", "containerd", "etcd"]);
    const byMem = screen(reduce(reduce(liveState(), { type: "screen", screen: "monitor" }), { type: "sort", by: "toggle" }), cols, rows);
    expect(byMem.join("\n")).toContain("by memory");
    // etcd 412 MiB, kubelet 142, containerd 61.
    expect(cmdOrder(byMem).slice(0, 3)).toEqual(["etcd", "kubelet", "containerd"]);
  });

  test("Monitor: interfaces with rx/tx rates and disks with read/write rates", () => {
    const lines = screen(reduce(liveState(), { type: "screen", screen: "monitor" }), cols, rows);
    const text = lines.join("\n");
    expect(text).toContain("Network (2)");
    expect(text).toContain("Disks (2)");
    // eth0: 180 kB per 1.5 s = 117 KiB/s rx, 40 kB per 1.5 s = 26.0 KiB/s tx.
    expect(lines[rowOf(lines, / eth0 /)]).toMatch(/eth0\s+117 KiB\/s\s+26\.0 KiB\/s/);
    // sda: 12 pages read, 90 written per 1.5 s.
    expect(lines[rowOf(lines, / sda /)]).toMatch(/sda\s+32\.0 KiB\/s\s+240 KiB\/s/);
  });

  test("Config: the pending scheduled shutdown, the machine config and the newest events", () => {
    const lines = screen(reduce(liveState(), { type: "screen", screen: "config" }), cols, rows);
    const text = lines.join("\n");
    expect(text).toContain("Scheduled poweroff at 2025-01-15 10:35:00 UTC (in 5m 00s): kernel upgrade");
    expect(text).toContain("version: v1alpha1");
    expect(text).toContain("type: controlplane");
    expect(text).toContain("Events (newest first)");
    expect(rowOf(lines, "shutdown scheduled: poweroff")).toBeLessThan(rowOf(lines, "sequence boot: start"));
    const none = screen(reduce(liveState(40, { scheduledShutdown: undefined }), { type: "screen", screen: "config" }), cols, rows).join("\n");
    expect(none).toContain("No shutdown scheduled.");
  });

  test("Config scrolls, and never past the last page", () => {
    const long = sample(0).config + Array.from({ length: 60 }, (_, i) => `# padding ${i + 1}`).join("\n") + "\n";
    const base = reduce(liveState(40, { config: long }), { type: "screen", screen: "config" });
    const scrolled = screen(reduce(base, { type: "scroll", lines: 2 }), cols, rows).join("\n");
    expect(scrolled).not.toContain("version: v1alpha1");
    expect(scrolled).toContain("lines 3-");
    const end = screen(reduce(base, { type: "scroll-to", where: "bottom" }), cols, rows).join("\n");
    expect(end).toContain("# padding 60");
    expect(end).not.toContain("version: v1alpha1");
    expect(end).toMatch(/lines \d+-84 of 84/);
  });

  test("a lost node: banner with the reason and the countdown; last data stays visible", () => {
    const s = disconnected(liveState(), "connect ENOENT /system/run/machined/machine.sock", 3, T0 + 4000, T0);
    const lines = screen(s, cols, rows);
    expect(lines[1]).toContain("DISCONNECTED - reconnecting in 4s (attempt 3) - connect ENOENT");
    expect(lines.join("\n")).toContain("Host node-1");
    expect(lines.join("\n")).not.toMatch(/\n\s+at /); // never a stack trace
  });

  test("before the first answer: a connecting line and a waiting message", () => {
    const lines = screen(initialState({ endpoint: "10.5.0.2:50000", now: T0 }), cols, rows);
    expect(lines[1]).toContain("connecting to 10.5.0.2:50000 (attempt 1)");
    expect(lines.join("\n")).toContain("waiting for the first answer from 10.5.0.2:50000");
  });

  test("a section the node refuses shows why; the rest still shows", () => {
    const s = reduce(liveState(40, { config: undefined, errors: { config: "permission denied" } }), { type: "screen", screen: "config" });
    const text = screen({ ...s, node: { ...s.node!, config: undefined } }, cols, rows).join("\n");
    expect(text).toContain("unavailable: permission denied");
    expect(text).toContain("Events (newest first)");
  });
});

describe("terminal too small", () => {
  test.each([
    [79, 25],
    [80, 23],
    [79, 23],
  ])("%i x %i shows the message and nothing else", (cols, rows) => {
    const lines = screen(liveState(), cols, rows);
    expect(lines).toHaveLength(rows);
    const text = lines.join("\n");
    expect(text).toContain(`terminal too small: ${cols}x${rows}`);
    expect(text).toContain("at least 80x24");
    expect(text).not.toContain("node-1");
  });

  test("80 x 24 is enough", () => {
    expect(screen(liveState(), 80, 24).join("\n")).toContain("Host node-1");
  });
});

test("console mode advertises that exit keys are off", () => {
  const s = { ...liveState(), console: true };
  const last = screen(s, 80, 25)[24]!;
  expect(last).toContain("console: exit keys off");
  expect(last).not.toContain("q quit");
});

test("colour output uses only the 8 basic SGR colours (Linux console safe) and is the same text", () => {
  const s = liveState();
  const styled = render(s, { cols: 80, rows: 25, colors: true });
  const plain = render(s, { cols: 80, rows: 25, colors: false });
  const codes = new Set(
    styled
      .join("")
      .match(/\x1b\[[\d;]*m/g)!
      .flatMap((m) => m.slice(2, -1).split(";")),
  );
  for (const c of codes) expect(["0", "1", "7", "30", "31", "32", "33", "34", "35", "36", "37", "40", "41", "42", "43", "44", "45", "46", "47"]).toContain(c);
  expect(styled.map((l) => l.replace(/\x1b\[[\d;]*m/g, ""))).toEqual(plain);
});

test("log lines cannot inject escape sequences", () => {
  const s = liveState(3, { log: ["evil \x1b[2J\x1b]0;title\x07 line"] });
  const text = render(s, { cols: 80, rows: 25, colors: true }).join("");
  expect(text).not.toContain("\x1b[2J");
  expect(text).not.toContain("\x07");
});
