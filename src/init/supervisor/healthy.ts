// The one moment tests and operators wait for: every service up (or skipped),
// logged once as text and as JSON, with the time since init was exec'd.
import { readFileSync } from "node:fs";
import type { NodeContext } from "../context.ts";
import { emitMachineStatus } from "../status.ts";

/**
 * The memory the boot leaves behind, given back once at the healthy moment: a
 * full collection frees the boot's garbage (the parsed config's YAML
 * documents, the phases' closures), and Bun.shrink() then drops the code
 * compiled for the boot alone and returns the freed heap. Measured with
 * bench/variants.ts (3 rounds, 300 ms after the healthy line): 47.0 -> 46.1
 * MiB after a default boot, 54.2 -> 50.8 MiB after a boot with a stored
 * config; a full collection alone bought 0.5 MiB. The code the API's calls
 * need is compiled again by the first calls after the boot, not by every
 * burst (the idle trim, src/lib/idle-trim.ts, waits 30 s for that reason).
 */
export function trimBootMemory(): void {
  Bun.gc(true);
  Bun.shrink();
}

/** How long after the trim PID 1's RSS is logged: Bun.shrink returns memory when the runtime is next idle. */
const TRIM_REPORT_MS = 1000;

export function watchAllHealthy(ctx: NodeContext, trim: () => void = trimBootMemory): void {
  const unsubscribe = ctx.events.subscribe((e) => {
    const reg = ctx.services.peek();
    if (e.kind !== "service" || ctx.healthyAtMs !== undefined || !reg?.allHealthy()) return;
    // performance.now() counts from the process's start: the boot-to-healthy time since exec.
    const ms = Math.round(performance.now());
    ctx.healthyAtMs = ms;
    unsubscribe();
    const services = reg.all().map((s) => ({ id: s.id, state: s.state, healthy: s.health.healthy }));
    const rssKiB = rss();
    ctx.log.info(`all services healthy in ${ms} ms`);
    emitMachineStatus(ctx, "running");
    ctx.log.json("healthy", { ms, rssKiB, sandbox: ctx.sandbox, services });
    // On a later turn: the healthy line and the status event go out first.
    setTimeout(() => giveBack(ctx, trim, rssKiB), 0);
  });
}

function giveBack(ctx: NodeContext, trim: () => void, beforeKiB: number | undefined): void {
  const t0 = performance.now();
  try {
    trim();
  } catch {
    return; // giving memory back is an optimisation: it never fails the node
  }
  const ms = performance.now() - t0;
  const report = setTimeout(() => {
    const after = rss();
    const mib = (kib: number | undefined) => (kib === undefined ? "?" : (kib / 1024).toFixed(1));
    ctx.log.info(`  memory after boot: ${mib(beforeKiB)} -> ${mib(after)} MiB (full collection and shrink, ${ms.toFixed(1)} ms)`);
  }, TRIM_REPORT_MS);
  report.unref();
}

/** PID 1's resident set size in KiB (from /proc/self/status). */
export function rss(): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
