// The one moment tests and operators wait for: every service up (or skipped),
// logged once as text and as JSON, with the time since init was exec'd.
import { readFileSync } from "node:fs";
import type { NodeContext } from "../context.ts";
import { emitMachineStatus } from "../status.ts";

export function watchAllHealthy(ctx: NodeContext): void {
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
  });
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
