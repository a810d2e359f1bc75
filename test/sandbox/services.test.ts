// Supervision in the sandbox: a crash-looping service backs off exponentially
// (capped) while PID 1 stays under 5% CPU; shutdown stops services in reverse
// dependency order; a service that ignores SIGTERM is killed with its children
// (cgroup.kill) once its grace period is over.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sh } from "../helpers/busybox.ts";
import { configWith, indexOf, matching, procStat, withNode } from "../helpers/node.ts";

const CLK_TCK = 100;

test("a crash-looping service restarts with capped exponential backoff and PID 1 stays under 5% CPU", async () => {
  const config = configWith([{ id: "crashy", command: sh("exit 1"), restart: "always", backoff: { initialMs: 100, maxMs: 800 }, console: false }]);
  await withNode({ config }, async (sb) => {
    await sb.waitForLine(/service crashy: Waiting: exited: exit code 1; restart 1 in/, 30_000);
    const init = await sb.initPid();
    const cpu0 = procStat(init).cpuTicks;
    const t0 = Date.now();
    await sb.waitForLine(/service crashy: Waiting: exited: exit code 1; restart 7 in/, 30_000);
    const cpuPct = ((procStat(init).cpuTicks - cpu0) / CLK_TCK / ((Date.now() - t0) / 1000)) * 100;
    const delays = matching(sb, /service crashy: Waiting: exited: exit code 1; restart \d+ in/).map((l) => Number(/in (\d+) ms/.exec(l)![1]));
    expect(delays.slice(0, 7)).toEqual([100, 200, 400, 800, 800, 800, 800]);
    // The waits are real: restart 4 (800 ms) is at least that far after restart 3.
    const at = (n: number) => sb.lineTimes[sb.lines.findIndex((l) => l.includes(`crashy: Waiting: exited: exit code 1; restart ${n} in`))]!;
    expect(at(4) - at(3)).toBeGreaterThanOrEqual(400);
    expect(at(5) - at(4)).toBeGreaterThanOrEqual(750);
    expect(cpuPct).toBeLessThan(5);
    console.log(`PID 1 CPU during the crash loop: ${cpuPct.toFixed(2)}%`);
  });
}, 60_000);

test("shutdown stops services in reverse dependency order and kills a SIGTERM-ignoring service with its children after its grace", async () => {
  // Each polite service answers SIGTERM after a short delay, so the order is visible.
  const polite = (id: string, dependsOn: string[] = []) => ({
    id,
    dependsOn,
    command: sh(`trap 'echo ${id} got TERM; sleep 0.2; exit 0' TERM; echo ${id} up; while true; do sleep 0.05; done`),
  });
  const config = configWith([
    polite("base"),
    polite("middle", ["base"]),
    polite("top", ["middle"]),
    // Ignores SIGTERM (as do its children: ignored dispositions survive exec).
    { id: "stubborn", command: sh(`trap '' TERM; sleep 1000 & sleep 1000 & echo stubborn up; wait`), stopGraceMs: 1000 },
    // Keeps the shutdown in its stop phase long after stubborn is gone, so the check below sees init's kill, not the final kill(-1).
    { id: "slow", command: sh(`trap 'sleep 2.5; exit 0' TERM; echo slow up; while true; do sleep 0.05; done`), stopGraceMs: 5000 },
  ]);
  await withNode({ config }, async (sb) => {
    await sb.waitForLine(/all services healthy in \d+ ms/, 30_000);
    // Start order follows the dependencies: base runs before middle starts, middle before top.
    expect(indexOf(sb, /service base: Running/)).toBeLessThan(indexOf(sb, /service middle: Running/));
    expect(indexOf(sb, /service middle: Running/)).toBeLessThan(indexOf(sb, /service top: Running/));
    expect(indexOf(sb, /service top: Waiting: waiting for middle/)).toBeLessThan(indexOf(sb, /service middle: Running/));
    const stubbornCg = join(sb.cgroupDir, "system/extra/stubborn/cgroup.procs");
    const pids = readFileSync(stubbornCg, "utf8").split("\n").filter(Boolean).map(Number);
    expect(pids.length).toBe(3); // sh and its two sleeps

    void sb.signal("SIGTERM");
    await sb.waitForLine(/service stubborn: Finished/, 20_000);
    // Right now (the slow service is still stopping) the stubborn cgroup is empty and its processes are gone.
    expect(readFileSync(stubbornCg, "utf8").trim()).toBe("");
    for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pids.filter((p) => existsSync(`/proc/${p}`))).toEqual([]);
    expect(matching(sb, /service slow: Finished/)).toHaveLength(0);

    const exit = await sb.stop("SIGTERM", 30_000);
    expect(exit.initSignal).toBe("SIGINT");
    const stopping = (id: string) => indexOf(sb, new RegExp(`service ${id}: Stopping`));
    const finished = (id: string) => indexOf(sb, new RegExp(`service ${id}: Finished`));
    expect(finished("top")).toBeLessThan(stopping("middle"));
    expect(finished("middle")).toBeLessThan(stopping("base"));
    expect(indexOf(sb, /\[top\] top got TERM/)).toBeLessThan(indexOf(sb, /\[middle\] middle got TERM/));
    const stubborn = sb.lines[finished("stubborn")]!;
    expect(stubborn).toContain("grace of 1000 ms elapsed: killed its cgroup (signal 9 (SIGKILL))");
    expect(stubborn).not.toContain("still populated");
    const graceMs = sb.lineTimes[finished("stubborn")]! - sb.lineTimes[stopping("stubborn")]!;
    expect(graceMs).toBeGreaterThanOrEqual(950);
  });
}, 60_000);
