// Wires the pieces together: terminal in, state, poll loop, renderer, diff
// writer out. Takes its terminal and data source as arguments, so a test can
// run the whole dashboard against fakes.
import { Canvas } from "./canvas.ts";
import { FrameWriter } from "./diff.ts";
import { actionFor, decodeKeys } from "./keys.ts";
import { pollLoop } from "./poll.ts";
import { configPage, renderCanvas } from "./render.ts";
import type { SourceFactory } from "./source.ts";
import { initialState, reduce, tick, type DashboardState } from "./state.ts";
import type { Terminal } from "./terminal.ts";

export interface RunOptions {
  terminal: Terminal;
  connect: SourceFactory;
  endpoint: string;
  intervalMs: number;
  /** init's console instance: q and Ctrl-C do nothing. */
  console: boolean;
  colors: boolean;
  /** Aborting it stops the dashboard (signals, tests). */
  signal?: AbortSignal;
  now?: () => number;
}

/** Runs until quit (or `signal` aborts); resolves to the exit code. */
export async function runDashboard(opts: RunOptions): Promise<number> {
  const now = opts.now ?? Date.now;
  const stop = new AbortController();
  const abort = () => stop.abort();
  opts.signal?.addEventListener("abort", abort);
  if (opts.signal?.aborted) stop.abort();

  let state: DashboardState = initialState({ endpoint: opts.endpoint, console: opts.console, intervalMs: opts.intervalMs, now: now() });
  const writer = new FrameWriter(opts.colors);
  const term = opts.terminal;
  let size = term.size();

  // Coalesce bursts of changes (a sample and a key in the same tick) into one frame.
  let pending = false;
  const draw = () => {
    if (pending || stop.signal.aborted) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      if (stop.signal.aborted) return;
      const out = writer.frame(renderCanvas(state, size.cols, size.rows));
      if (out) term.write(out);
    });
  };
  const update = (fn: (s: DashboardState) => DashboardState) => {
    state = fn(state);
    draw();
  };

  const onInput = (data: string) => {
    for (const key of decodeKeys(data)) {
      const action = actionFor(key, configPage(size.rows));
      if (!action) continue;
      if (action.type === "quit") {
        if (!opts.console) stop.abort();
        continue;
      }
      update((s) => reduce(s, action));
    }
  };
  const onResize = () => {
    size = term.size();
    writer.invalidate();
    draw();
  };

  term.enter(onInput, onResize);
  // The clock in the tab bar and the reconnect countdown move once a second.
  const ticker = setInterval(() => update((s) => tick(s, now())), 1000);
  try {
    writer.frame(new Canvas(size.cols, size.rows)); // the screen was just cleared: start from blank
    draw();
    await pollLoop({
      connect: opts.connect,
      intervalMs: opts.intervalMs,
      update,
      request: () => ({ logLines: Math.max(10, size.rows) }),
      signal: stop.signal,
      now,
    });
  } finally {
    clearInterval(ticker);
    opts.signal?.removeEventListener("abort", abort);
    term.leave();
  }
  return 0;
}
