// The dashboard's moving parts without a terminal: key decoding, state
// transitions, rates, the frame differ, the poll loop's backoff, flags, and
// the whole app against a fake terminal and a fake node.
import { describe, expect, test } from "bun:test";
import { runDashboard } from "../../../../src/applets/dashboard/app.ts";
import { Canvas } from "../../../../src/applets/dashboard/canvas.ts";
import { FrameWriter } from "../../../../src/applets/dashboard/diff.ts";
import { actionFor, decodeKeys } from "../../../../src/applets/dashboard/keys.ts";
import { main, parseDashboardFlags } from "../../../../src/applets/dashboard/main.ts";
import { cpuUsage, netRates, processRows, sortProcesses } from "../../../../src/applets/dashboard/metrics.ts";
import { describeError, pollLoop } from "../../../../src/applets/dashboard/poll.ts";
import type { DashboardSource, NodeSample } from "../../../../src/applets/dashboard/source.ts";
import { initialState, reduce, type DashboardState } from "../../../../src/applets/dashboard/state.ts";
import type { Terminal } from "../../../../src/applets/dashboard/terminal.ts";
import { captureIo } from "../../../../src/lib/io.ts";
import { liveState, sample } from "../../../helpers/dashboard-fixture.ts";

describe("keys", () => {
  test("F1-F3 as the Linux console, xterm and rxvt send them, and 1-3", () => {
    expect(decodeKeys("\x1b[[A\x1b[[B\x1b[[C")).toEqual(["f1", "f2", "f3"]);
    expect(decodeKeys("\x1bOP\x1bOQ\x1bOR")).toEqual(["f1", "f2", "f3"]);
    expect(decodeKeys("\x1b[11~\x1b[12~\x1b[13~")).toEqual(["f1", "f2", "f3"]);
    expect(decodeKeys("123q\x03")).toEqual([{ char: "1" }, { char: "2" }, { char: "3" }, { char: "q" }, "ctrl-c"]);
  });

  test("unknown escape sequences are skipped whole, not read as letters", () => {
    expect(decodeKeys("\x1b[24~q")).toEqual([{ char: "q" }]);
    expect(decodeKeys("\x1b[5~\x1b[6~\x1b[A")).toEqual(["pgup", "pgdn", "up"]);
  });

  test("actions", () => {
    expect(actionFor("f2", 10)).toEqual({ type: "screen", screen: "monitor" });
    expect(actionFor({ char: "3" }, 10)).toEqual({ type: "screen", screen: "config" });
    expect(actionFor({ char: "s" }, 10)).toEqual({ type: "sort", by: "toggle" });
    expect(actionFor("pgdn", 13)).toEqual({ type: "scroll", lines: 13 });
    expect(actionFor("ctrl-c", 10)).toEqual({ type: "quit" });
    expect(actionFor({ char: "x" }, 10)).toBeUndefined();
  });
});

describe("state", () => {
  test("screens and sort order switch", () => {
    let s = initialState({ endpoint: "e" });
    expect(s.screen).toBe("summary");
    s = reduce(s, { type: "next-screen" });
    expect(s.screen).toBe("monitor");
    s = reduce(s, { type: "sort", by: "toggle" });
    expect(s.sort).toBe("mem");
    s = reduce(s, { type: "sort", by: "cpu" });
    expect(s.sort).toBe("cpu");
  });

  test("config scroll stays inside the text", () => {
    const s = liveState(3);
    expect(reduce(s, { type: "scroll", lines: -5 }).configScroll).toBe(0);
    expect(reduce(s, { type: "scroll", lines: 1000 }).configScroll).toBe(24); // 25 lines incl. trailing ""
  });

  test("a sample without config keeps the last one", () => {
    const s = liveState(3);
    const cfg = s.node!.config;
    expect(cfg).toContain("version: v1alpha1");
    expect(liveState(3, { config: undefined }).node!.config).toBeUndefined();
  });
});

describe("metrics", () => {
  test("cpu usage is busy/total between two samples", () => {
    expect(cpuUsage({ busy: 100, total: 1000 }, { busy: 150, total: 1100 })).toBeCloseTo(0.5);
    expect(cpuUsage(undefined, { busy: 1, total: 2 })).toBeUndefined();
  });

  test("process CPU share from cpu-seconds deltas; sort by cpu or memory", () => {
    const p = (pid: number, cpuSeconds: number, residentBytes: number) => ({
      pid,
      state: "S",
      threads: 1,
      cpuSeconds,
      residentBytes,
      command: `p${pid}`,
      args: "",
    });
    const rows = processRows([p(1, 10, 0), p(2, 10, 0)], [p(1, 11, 500), p(2, 12, 100), p(3, 1, 900)], 2);
    expect(rows.map((r) => r.cpu)).toEqual([0.5, 1, undefined]);
    expect(sortProcesses(rows, "cpu").map((r) => r.pid)).toEqual([2, 1, 3]);
    expect(sortProcesses(rows, "mem").map((r) => r.pid)).toEqual([3, 1, 2]);
  });

  test("a counter that went backwards (interface reset) gives no rate rather than a negative one", () => {
    const r = netRates([{ name: "eth0", rxBytes: 1000, txBytes: 1000 }], [{ name: "eth0", rxBytes: 10, txBytes: 3000 }], 2);
    expect(r[0]!.in).toBeUndefined();
    expect(r[0]!.out).toBe(1000);
  });
});

describe("frame writer", () => {
  test("first frame clears and draws everything; the next only what changed", () => {
    const w = new FrameWriter(false);
    const a = new Canvas(10, 3);
    a.text(0, 0, "hello");
    a.text(0, 2, "static");
    const first = w.frame(a);
    expect(first).toContain("\x1b[2J");
    expect(first).toContain("hello");
    const b = new Canvas(10, 3);
    b.text(0, 0, "hellO");
    b.text(0, 2, "static");
    const second = w.frame(b);
    expect(second).toBe("\x1b[1;5HO"); // row 1, column 5: one cell
    expect(w.frame(b)).toBe(""); // no change, no bytes
  });

  test("a style change alone is redrawn; invalidate forces a full redraw", () => {
    const w = new FrameWriter(true);
    const a = new Canvas(5, 1);
    a.text(0, 0, "ab");
    w.frame(a);
    const b = new Canvas(5, 1);
    b.text(0, 0, "ab", { bold: true });
    expect(w.frame(b)).toBe("\x1b[1;1H\x1b[0;1mab\x1b[0m");
    w.invalidate();
    expect(w.frame(b)).toContain("\x1b[2J");
  });
});

function fakeNode() {
  const node = {
    up: true,
    connects: 0,
    step: 0,
    closed: 0,
    connect: async (): Promise<DashboardSource> => {
      node.connects++;
      if (!node.up) throw Object.assign(new Error("14 UNAVAILABLE: No connection established\n    at stack frame"), { code: 14 });
      return {
        sample: async (): Promise<NodeSample> => {
          if (!node.up) throw new Error("14 UNAVAILABLE: Connection dropped");
          return sample(node.step++);
        },
        close: () => {
          node.closed++;
        },
      };
    },
  };
  return node;
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(5);
  }
};

describe("poll loop", () => {
  test("samples, loses the node, backs off doubling, reconnects, and closes what it opened", async () => {
    const node = fakeNode();
    let state: DashboardState = initialState({ endpoint: "e" });
    const history: string[] = [];
    const stop = new AbortController();
    const loop = pollLoop({
      connect: node.connect,
      intervalMs: 10,
      update: (fn) => {
        state = fn(state);
        if (history.at(-1) !== state.conn.status) history.push(state.conn.status);
      },
      request: () => ({ logLines: 10 }),
      signal: stop.signal,
      backoff: { initialMs: 20, maxMs: 80 },
    });
    await until(() => node.step >= 3);
    expect(state.conn.status).toBe("connected");
    expect(state.node?.sample.hostname).toBe("node-1");
    node.up = false;
    await until(() => state.conn.status === "disconnected" && state.conn.attempt >= 4);
    const conn = state.conn as Extract<DashboardState["conn"], { status: "disconnected" }>;
    expect(conn.error).toBe("14 UNAVAILABLE: No connection established"); // first line only
    expect(state.node?.sample.hostname).toBe("node-1"); // last data kept
    node.up = true;
    await until(() => state.conn.status === "connected");
    stop.abort();
    await loop;
    expect(history).toEqual(
      [
        "connecting",
        "connected",
        "disconnected",
        "connecting",
        "disconnected",
        "connecting",
        "disconnected",
        "connecting",
        "disconnected",
        "connecting",
        "connected",
      ].slice(0, history.length),
    );
    expect(history.at(-1)).toBe("connected");
    expect(node.closed).toBe(2); // the lost source and the last one; failed connects had nothing to close
  });

  test("a node that stops answering is lost after the timeout", async () => {
    let state: DashboardState = initialState({ endpoint: "e" });
    const stop = new AbortController();
    const loop = pollLoop({
      connect: async () => ({ sample: () => new Promise<NodeSample>(() => {}), close() {} }),
      intervalMs: 10,
      update: (fn) => (state = fn(state)),
      request: () => ({ logLines: 10 }),
      signal: stop.signal,
      timeoutMs: 30,
      backoff: { initialMs: 1000, maxMs: 1000 },
    });
    await until(() => state.conn.status === "disconnected");
    expect((state.conn as { error: string }).error).toBe("no answer within 0.03 s");
    stop.abort();
    await loop;
  });

  test("describeError prefers gRPC details and drops stacks", () => {
    expect(describeError(Object.assign(new Error("14 UNAVAILABLE: x"), { details: "connect ECONNREFUSED" }))).toBe("connect ECONNREFUSED");
    expect(describeError(new Error("boom\n  at x"))).toBe("boom");
    expect(describeError("plain")).toBe("plain");
  });
});

describe("flags", () => {
  test("defaults and explicit values", () => {
    expect(parseDashboardFlags([])).toMatchObject({ endpoint: "unix:/system/run/machined/machine.sock", intervalMs: 1500, console: false });
    expect(parseDashboardFlags(["-n", "unix:/tmp/s.sock", "--interval", "1000", "--console"])).toMatchObject({
      endpoint: "unix:/tmp/s.sock",
      intervalMs: 1000,
      console: true,
    });
    expect(parseDashboardFlags(["--endpoint", "10.0.0.2:50000", "--ca", "a", "--crt", "b", "--key", "c"])).toMatchObject({ ca: "a", crt: "b", key: "c" });
  });

  test("bad flags are usage errors (exit 2), --help prints usage", async () => {
    for (const argv of [["--interval", "50"], ["--bogus"], ["--ca", "a"], ["-n", "unix:/x", "--ca", "a", "--crt", "b", "--key", "c"], ["extra"]]) {
      const io = captureIo();
      expect(await main(argv, io)).toBe(2);
      expect(io.err).toContain("usage: dashboard");
    }
    const io = captureIo();
    expect(await main(["--help"], io)).toBe(0);
    expect(io.out).toContain("--endpoint");
  });

  test("refuses to draw without a terminal", async () => {
    const io = captureIo();
    expect(await main([], io)).toBe(1);
    expect(io.err).toBe("dashboard: stdout is not a terminal\n");
  });
});

interface FakeTerminal extends Terminal {
  cols: number;
  rows: number;
  out: string;
  left: number;
  input: (data: string) => void;
  resize: () => void;
}

function fakeTerminal(cols = 80, rows = 25): FakeTerminal {
  const t: FakeTerminal = {
    cols,
    rows,
    out: "",
    left: 0,
    input: (_: string) => {},
    resize: () => {},
    size: () => ({ cols: t.cols, rows: t.rows }),
    write: (s: string) => {
      t.out += s;
    },
    enter: (onInput: (d: string) => void, onResize: () => void) => {
      t.input = onInput;
      t.resize = onResize;
    },
    leave: () => {
      t.left++;
    },
  };
  return t;
}

describe("app", () => {
  test("draws the node, switches screens on keys, quits on q and gives the terminal back", async () => {
    const node = fakeNode();
    const term = fakeTerminal();
    const run = runDashboard({ terminal: term, connect: node.connect, endpoint: "unix:/x", intervalMs: 1000, console: false, colors: false });
    await until(() => term.out.includes("Host node-1"));
    term.out = "";
    term.input("2");
    await until(() => term.out.includes("Processes (6)"));
    expect(term.out).not.toContain("\x1b[2J"); // a screen switch is a diff, not a clear
    term.input("q");
    expect(await run).toBe(0);
    expect(term.left).toBe(1);
  });

  test("on the console q and Ctrl-C do nothing; the signal still stops it", async () => {
    const node = fakeNode();
    const term = fakeTerminal();
    const stop = new AbortController();
    let done = false;
    const run = runDashboard({
      terminal: term,
      connect: node.connect,
      endpoint: "unix:/x",
      intervalMs: 1000,
      console: true,
      colors: false,
      signal: stop.signal,
    }).then((c) => {
      done = true;
      return c;
    });
    await until(() => term.out.includes("Host node-1"));
    term.input("q\x03");
    await Bun.sleep(50);
    expect(done).toBe(false);
    stop.abort();
    expect(await run).toBe(0);
    expect(term.left).toBe(1);
  });

  test("a resize redraws the whole screen at the new size, including the too-small message", async () => {
    const node = fakeNode();
    const term = fakeTerminal();
    const stop = new AbortController();
    const run = runDashboard({
      terminal: term,
      connect: node.connect,
      endpoint: "unix:/x",
      intervalMs: 1000,
      console: false,
      colors: false,
      signal: stop.signal,
    });
    await until(() => term.out.includes("Host node-1"));
    term.out = "";
    term.cols = 60;
    term.rows = 20;
    term.resize();
    await until(() => term.out.includes("terminal too small: 60x20"));
    expect(term.out).toContain("\x1b[2J");
    stop.abort();
    await run;
  });
});
