// The dashboard's whole state, and the pure transitions on it. The poll loop
// and the key handler produce new states; render.ts draws one. Nothing here
// does I/O, so every transition is unit-testable.
import { cpuUsage, diskRates, netRates, processRows, type ProcessRow, type ProcessSort, type RateRow } from "./metrics.ts";
import type { NodeSample } from "./source.ts";

export type ScreenName = "summary" | "monitor" | "config";
export const SCREENS: ScreenName[] = ["summary", "monitor", "config"];

export type Connection =
  | { status: "connecting"; attempt: number }
  | { status: "connected" }
  | { status: "disconnected"; error: string; attempt: number; retryAt: number };

/** The latest sample with what was derived from it and its predecessors. */
export interface NodeView {
  sample: NodeSample;
  receivedAt: number;
  /** Busy fraction over the last interval. */
  cpu: number | undefined;
  /** Newest last, at most HISTORY entries. */
  cpuHistory: number[];
  memHistory: number[];
  processes: ProcessRow[];
  net: RateRow[];
  disks: RateRow[];
  /** Kept across samples that did not fetch it. */
  config: string | undefined;
}

export interface DashboardState {
  endpoint: string;
  screen: ScreenName;
  sort: ProcessSort;
  /** Run by init on the console: exit keys are off. */
  console: boolean;
  intervalMs: number;
  /** The clock for this frame (epoch ms), so rendering stays a pure function. */
  now: number;
  conn: Connection;
  node: NodeView | undefined;
  /** First config line shown on the Config screen. */
  configScroll: number;
}

/** Samples of graph history kept: wider than the widest graph we draw. */
export const HISTORY = 240;

export function initialState(opts: { endpoint: string; console?: boolean; intervalMs?: number; now?: number }): DashboardState {
  return {
    endpoint: opts.endpoint,
    screen: "summary",
    sort: "cpu",
    console: opts.console ?? false,
    intervalMs: opts.intervalMs ?? 1500,
    now: opts.now ?? Date.now(),
    conn: { status: "connecting", attempt: 1 },
    node: undefined,
    configScroll: 0,
  };
}

function pushCapped(list: number[], v: number | undefined): number[] {
  if (v === undefined) return list;
  const out = list.length >= HISTORY ? list.slice(list.length - HISTORY + 1) : list.slice();
  out.push(v);
  return out;
}

export function applySample(state: DashboardState, sample: NodeSample, at: number): DashboardState {
  const prev = state.node;
  const seconds = prev ? (at - prev.receivedAt) / 1000 : 0;
  const cpu = cpuUsage(prev?.sample.cpu, sample.cpu);
  const mem = sample.memory && sample.memory.totalBytes > 0 ? 1 - sample.memory.availableBytes / sample.memory.totalBytes : undefined;
  const node: NodeView = {
    sample,
    receivedAt: at,
    cpu,
    cpuHistory: pushCapped(prev?.cpuHistory ?? [], cpu),
    memHistory: pushCapped(prev?.memHistory ?? [], mem),
    processes: processRows(prev?.sample.processes, sample.processes ?? [], seconds),
    net: netRates(prev?.sample.net, sample.net ?? [], seconds),
    disks: diskRates(prev?.sample.disks, sample.disks ?? [], seconds),
    config: sample.config ?? prev?.config,
  };
  return { ...state, now: at, conn: { status: "connected" }, node };
}

export function connecting(state: DashboardState, attempt: number, now: number): DashboardState {
  return { ...state, now, conn: { status: "connecting", attempt } };
}

/**
 * The node went away. Its last view stays on screen under the banner (stale
 * numbers are more useful than a blank screen), but rates restart from
 * scratch after the reconnect.
 */
export function disconnected(state: DashboardState, error: string, attempt: number, retryAt: number, now: number): DashboardState {
  return { ...state, now, conn: { status: "disconnected", error, attempt, retryAt } };
}

export function tick(state: DashboardState, now: number): DashboardState {
  return { ...state, now };
}

export type Action =
  | { type: "screen"; screen: ScreenName }
  | { type: "next-screen" }
  | { type: "sort"; by: ProcessSort | "toggle" }
  | { type: "scroll"; lines: number }
  | { type: "scroll-to"; where: "top" | "bottom" }
  | { type: "quit" };

/** Applies a key action. `quit` is handled by the caller (and refused on the console). */
export function reduce(state: DashboardState, action: Action): DashboardState {
  switch (action.type) {
    case "screen":
      return { ...state, screen: action.screen };
    case "next-screen":
      return { ...state, screen: SCREENS[(SCREENS.indexOf(state.screen) + 1) % SCREENS.length]! };
    case "sort":
      return { ...state, sort: action.by === "toggle" ? (state.sort === "cpu" ? "mem" : "cpu") : action.by };
    case "scroll":
      return { ...state, configScroll: clampScroll(state, state.configScroll + action.lines) };
    case "scroll-to":
      return { ...state, configScroll: action.where === "top" ? 0 : clampScroll(state, Number.MAX_SAFE_INTEGER) };
    case "quit":
      return state;
  }
}

/** Keeps the offset inside the config text; the renderer further limits it to the last full page. */
function clampScroll(state: DashboardState, offset: number): number {
  const lines = state.node?.config?.split("\n").length ?? 0;
  return Math.max(0, Math.min(offset, lines - 1));
}
