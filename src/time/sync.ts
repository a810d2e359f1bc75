// The SNTP client loop: keeps the clock on time against machine.time.servers.
//
// Each round asks the servers in order (starting with the last one that worked)
// until one gives a usable answer, acts on it, and sleeps until the next round:
//
//   not yet synced  the FIRST good answer steps the clock (an unset clock may be
//                   years off: any checked answer is better) and the node is
//                   "synced". Failed rounds retry soon: 1 s, doubling to 16 s.
//   synced          a burst of `samples` queries to one server, `sampleSpacingMs`
//                   apart; the sample with the lowest round-trip delay wins (it
//                   has the least room for asymmetric queuing). Its offset is
//                   slewed by the kernel PLL when |offset| <= stepThreshold
//                   (0.4 s, below the PLL's 0.5 s clamp), else stepped. The poll
//                   interval starts at 64 s and doubles up to 1024 s while the
//                   offsets stay small (< stepThreshold / 4); a step brings it
//                   back to 64 s. A failed round retries at 64 s.
//
// The max-change rule (why a synced clock does not follow a liar): once synced,
// an offset larger than `maxChangeMs` (default 1000 s, ntpd's "panic
// threshold") is NOT applied. Our clock was right a poll ago and clocks do not
// drift by a quarter of an hour between polls, so such an answer is a broken or
// hostile server far more often than a broken clock. The sample is reported as
// an "error" event (reason "max-change"), the clock keeps its time, `synced`
// stays true and the round counts as failed. The offset is applied (stepped)
// only when it is measured `maxChangeConfirmations` (default 3) rounds in a row,
// each within stepThreshold of the first, so a clock that really was wrong (the
// first server lied; someone set the time by hand) recovers after ~3 short
// rounds, and a one-off liar never moves it. Before the first sync there is no
// known-good time to compare with, and every checked offset is applied.
//
// Kiss-o'-death (RFC 5905 §7.4): RATE holds that server back for twice the
// current poll interval (at least 64 s); DENY and RSTR remove it from the
// rotation for the life of this loop (the server asked never to be queried
// again). Other kiss codes just fail the query.
//
// bootTimeout (Talos's machine.time.bootTimeout): `ready` resolves when the clock
// is synced or when the timeout passes, whichever comes first, so the boot waits
// for time at most that long and then goes on with "boot-timeout" reported; the
// loop keeps trying. Unset or 0 waits forever, as Talos does by default.
// `disabled` starts no loop and resolves `ready` at once.
//
// The decisions themselves (step / slew / hold, the intervals) are pure
// functions in policy.ts; this file runs the loop around them.
import type { ClockAdjuster } from "./adjuster.ts";
import { realTimers, type Clock, type Resolver, type Timers, type UdpTransport } from "./deps.ts";
import { decide, initialIntervals, nextInterval, policy, type PendingChange, type PolicyOptions, type RoundResult, type SampleAction } from "./policy.ts";
import { query, type Failure, type FailReason, type Sample, type Target } from "./query.ts";
import { parseServer, resolveServer, systemResolver, type ServerSpec } from "./servers.ts";
import { bunUdp } from "./udp.ts";

export type { SampleAction } from "./policy.ts";

/** machine.time and the loop's tunables (documented in policy.ts). */
export interface TimeSyncOptions extends PolicyOptions {
  /** machine.time.disabled. */
  disabled?: boolean;
}

export interface TimeSyncDeps {
  /** The clock the loop reads, and the adjuster that moves it: systemClock + systemAdjuster() on a node, logOnlyClock() in the sandbox. */
  clock: Clock;
  adjuster: ClockAdjuster;
  transport?: UdpTransport;
  timers?: Timers;
  resolve?: Resolver;
  log?: (line: string) => void;
  nonce?: () => bigint;
}

export interface SampleEvent extends Sample {
  action: SampleAction;
}

export type SyncErrorReason = FailReason | "invalid-server" | "max-change" | "adjust-failed" | "no-servers";

export interface SyncError {
  server: string;
  address?: string;
  reason: SyncErrorReason;
  detail: string;
  kiss?: string;
}

export interface TimeSyncStatus {
  enabled: boolean;
  /** The clock has been set from a server (the "time synced" node condition). */
  synced: boolean;
  /** bootTimeout passed before the first sync. */
  bootTimedOut: boolean;
  adjuster: string;
  /** From the last applied sample. */
  server?: string;
  address?: string;
  stratum?: number;
  offsetMs?: number;
  delayMs?: number;
  /** Our clock (as corrected) when the last sample was applied / when first synced, Unix ms. */
  lastSyncAtMs?: number;
  syncedAtMs?: number;
  /** Monotonic ms from start() to the first sync. */
  timeToSyncMs?: number;
  /** The interval before the next round, ms. */
  nextPollMs: number;
  lastError?: SyncError;
  /** Servers removed by a DENY/RSTR kiss-o'-death. */
  refused: string[];
}

export type ReadyOutcome = "synced" | "boot-timeout" | "disabled" | "stopped";

export interface TimeSyncEvents {
  synced: TimeSyncStatus;
  sample: SampleEvent;
  error: SyncError;
  bootTimeout: TimeSyncStatus;
}

export interface TimeSync {
  /** Resolves when synced, when bootTimeout passes, at once when disabled, or on stop. */
  readonly ready: Promise<{ outcome: ReadyOutcome; status: TimeSyncStatus }>;
  status(): TimeSyncStatus;
  on<K extends keyof TimeSyncEvents>(event: K, fn: (value: TimeSyncEvents[K]) => void): () => void;
  stop(): void;
}

const MS = 1_000_000n;

const toMs = (ns: bigint) => Number(ns) / 1e6;

export function startTimeSync(opts: TimeSyncOptions, deps: TimeSyncDeps): TimeSync {
  const cfg = policy(opts);
  const timers = deps.timers ?? realTimers;
  const transport = deps.transport ?? bunUdp;
  const resolve = deps.resolve ?? systemResolver;
  const log = deps.log ?? (() => {});
  const startedMs = timers.monoMs();
  const listeners: { [K in keyof TimeSyncEvents]: Set<(v: TimeSyncEvents[K]) => void> } = {
    synced: new Set(),
    sample: new Set(),
    error: new Set(),
    bootTimeout: new Set(),
  };
  const st: TimeSyncStatus = {
    enabled: !opts.disabled,
    synced: false,
    bootTimedOut: false,
    adjuster: deps.adjuster.kind,
    nextPollMs: cfg.retryMinMs,
    refused: [],
  };
  const abort = new AbortController();
  let stopped = false;
  let settleReady: (r: { outcome: ReadyOutcome; status: TimeSyncStatus }) => void = () => {};
  const ready = new Promise<{ outcome: ReadyOutcome; status: TimeSyncStatus }>((r) => (settleReady = r));
  let readySettled = false;
  const settle = (outcome: ReadyOutcome) => {
    if (readySettled) return;
    readySettled = true;
    settleReady({ outcome, status: status() });
  };

  const status = (): TimeSyncStatus => ({ ...st, refused: [...st.refused], ...(st.lastError ? { lastError: { ...st.lastError } } : {}) });

  function emit<K extends keyof TimeSyncEvents>(event: K, value: TimeSyncEvents[K]): void {
    for (const fn of listeners[event]) {
      try {
        fn(value);
      } catch (e) {
        log(`time: ${event} listener threw: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  function error(e: SyncError): void {
    st.lastError = e;
    log(`time: ${e.server}${e.address && e.address !== e.server ? ` (${e.address})` : ""}: ${e.reason}: ${e.detail}`);
    emit("error", e);
  }

  const handle: TimeSync = {
    ready,
    status,
    on(event, fn) {
      listeners[event].add(fn);
      return () => listeners[event].delete(fn);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      cancelSleep();
      cancelBoot();
      settle("stopped");
    },
  };

  let cancelBoot = () => {};
  let cancelSleep = () => {};

  if (opts.disabled) {
    log("time: sync disabled (machine.time.disabled)");
    settle("disabled");
    return handle;
  }

  // Parse every server up front: a typo fails loudly at start, not at first use.
  const specs = new Map<string, ServerSpec>();
  const badSpecs: SyncError[] = [];
  for (const s of cfg.servers) {
    try {
      specs.set(s, parseServer(s));
    } catch (e) {
      badSpecs.push({ server: s, reason: "invalid-server", detail: e instanceof Error ? e.message : String(e) });
    }
  }

  if (cfg.bootTimeoutMs > 0) {
    cancelBoot = timers.setTimeout(() => {
      if (st.synced || stopped) return;
      st.bootTimedOut = true;
      log(`time: not synced within bootTimeout ${cfg.bootTimeoutMs} ms; booting on, still trying`);
      emit("bootTimeout", status());
      settle("boot-timeout");
    }, cfg.bootTimeoutMs);
  }

  // Per-server state: a RATE kiss holds it back until holdUntilMs (monotonic).
  const holdUntilMs = new Map<string, number>();
  let preferred = 0;
  let intervals = initialIntervals(cfg);
  let pending: PendingChange | undefined;
  let lastOffsetNs: bigint | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      if (stopped) return r();
      cancelSleep = timers.setTimeout(() => {
        cancelSleep = () => {};
        r();
      }, ms);
      // stop() cancels the timer and must still end the wait.
      const cancel = cancelSleep;
      cancelSleep = () => {
        cancel();
        r();
      };
    });

  function failure(f: Failure): void {
    const e: SyncError = { server: f.server, address: f.address, reason: f.reason, detail: f.detail };
    if (f.kiss !== undefined) e.kiss = f.kiss;
    if (f.reason === "kiss") {
      if (f.kiss === "DENY" || f.kiss === "RSTR") {
        if (!st.refused.includes(f.server)) st.refused.push(f.server);
        e.detail += "; server removed from the rotation";
      } else if (f.kiss === "RATE") {
        const hold = Math.max(cfg.pollMinMs, 2 * (st.synced ? intervals.pollMs : cfg.pollMinMs));
        holdUntilMs.set(f.server, timers.monoMs() + hold);
        e.detail += `; holding this server back ${hold} ms`;
      }
    }
    if (f.reason !== "stopped") error(e);
  }

  /** Applies the winning sample: what it did ("held" by the max-change rule, "failed" if the adjuster threw). */
  function apply(s: Sample): RoundResult {
    const off = s.offsetNs;
    const d = decide(off, st.synced, pending, cfg);
    pending = d.pending;
    const action = d.action;
    if (action === "held") {
      error({
        server: s.server,
        address: s.address,
        reason: "max-change",
        detail: `offset ${toMs(off).toFixed(0)} ms exceeds the max change ${toMs(cfg.maxChangeNs)} ms while synced: not applied (${pending!.count}/${cfg.maxChangeConfirmations} consecutive rounds)`,
      });
      emit("sample", { ...s, action });
      return action;
    }

    // Our error bound: half the round trip plus the server's root distance.
    const maxErrorUs = Number(s.delayNs) / 2e3 + (s.rootDelayS / 2 + s.rootDispersionS) * 1e6;
    const adj = { offsetNs: off, maxErrorUs, estErrorUs: Number(s.delayNs) / 2e3, pollMs: intervals.pollMs };
    try {
      if (action === "step") deps.adjuster.step(adj);
      else deps.adjuster.slew(adj);
    } catch (e) {
      error({ server: s.server, address: s.address, reason: "adjust-failed", detail: `${action}: ${e instanceof Error ? e.message : String(e)}` });
      return "failed";
    }
    lastOffsetNs = off;
    const now = Number(deps.clock.realtimeNs() / MS);
    Object.assign(st, { server: s.server, address: s.address, stratum: s.stratum, offsetMs: toMs(off), delayMs: toMs(s.delayNs), lastSyncAtMs: now });
    log(`time: ${action} ${toMs(off).toFixed(3)} ms from ${s.server} (${s.address}, stratum ${s.stratum}, delay ${toMs(s.delayNs).toFixed(3)} ms)`);
    emit("sample", { ...s, action });
    if (!st.synced) {
      st.synced = true;
      st.syncedAtMs = now;
      st.timeToSyncMs = timers.monoMs() - startedMs;
      cancelBoot();
      emit("synced", status());
      settle("synced");
    }
    return action;
  }

  /** One round against the servers in rotation; what it did to the clock. */
  async function round(): Promise<RoundResult> {
    const usable = cfg.servers.filter((s) => specs.has(s) && !st.refused.includes(s));
    if (usable.length === 0) {
      error({
        server: "",
        reason: "no-servers",
        detail: cfg.servers.length ? `every server refused us or is invalid: ${cfg.servers.join(", ")}` : "machine.time.servers is empty",
      });
      return "failed";
    }
    const n = cfg.servers.length;
    for (let i = 0; i < n && !stopped; i++) {
      const idx = (preferred + i) % n;
      const server = cfg.servers[idx]!;
      const spec = specs.get(server);
      if (!spec || st.refused.includes(server)) continue;
      if ((holdUntilMs.get(server) ?? 0) > timers.monoMs()) continue;
      let addresses: string[];
      try {
        addresses = await resolveServer(spec, resolve);
      } catch (e) {
        error({ server, reason: "dns", detail: e instanceof Error ? e.message : String(e) });
        continue;
      }
      for (const address of addresses) {
        if (stopped) break;
        const best = await burst({ server, address, port: spec.port }, st.synced ? cfg.samples : 1);
        if (best === "kissed") break;
        if (best) {
          preferred = idx;
          return apply(best);
        }
      }
    }
    return "failed";
  }

  /** Up to `count` queries; the sample with the lowest delay, undefined if none, "kissed" when a kiss-o'-death ended the burst. */
  async function burst(target: Target, count: number): Promise<Sample | undefined | "kissed"> {
    let best: Sample | undefined;
    for (let k = 0; k < count && !stopped; k++) {
      if (k > 0) await sleep(cfg.sampleSpacingMs);
      if (stopped) break;
      const r = await query(
        target,
        { transport, clock: deps.clock, timers, ...(deps.nonce ? { nonce: deps.nonce } : {}) },
        { timeoutMs: cfg.queryTimeoutMs, limits: cfg.limits, signal: abort.signal },
      );
      if (!r.ok) {
        failure(r);
        if (r.reason === "kiss") return best ?? "kissed";
        continue;
      }
      const { ok: _ok, ...sample } = r;
      if (!best || sample.delayNs < best.delayNs) best = sample;
    }
    return best;
  }

  void (async () => {
    log(`time: syncing against ${cfg.servers.join(", ") || "(no servers)"} (adjuster ${deps.adjuster.kind})`);
    await Promise.resolve(); // let the caller attach listeners before the first event
    for (const e of badSpecs) error(e);
    while (!stopped) {
      const r = await round();
      if (stopped) break;
      const next = nextInterval(intervals, st.synced, r, lastOffsetNs, cfg);
      intervals = next.intervals;
      st.nextPollMs = next.sleepMs;
      await sleep(next.sleepMs);
    }
  })();

  return handle;
}
