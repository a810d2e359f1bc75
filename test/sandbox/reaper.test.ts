// The reaper under load: a service forks 1,000 orphans (each reparented to the
// node's PID 1) while three services keep exiting with known statuses. Every
// supervised exit must arrive with its own status, and no zombie may remain.
import { expect, test } from "bun:test";
import { sh } from "../helpers/busybox.ts";
import { configWith, matching, withNode, zombies } from "../helpers/node.ts";

const ORPHANS = 1000;
const fast = { restart: "always" as const, backoff: { initialMs: 50, maxMs: 100 } };

test(`${ORPHANS} orphans are reaped while supervised services exit with known codes`, async () => {
  const config = configWith([
    // ( sleep & ): the subshell exits at once, so each sleep is orphaned to PID 1.
    { id: "forker", command: sh(`i=0; while [ $i -lt ${ORPHANS} ]; do (sleep 0.3 &); i=$((i+1)); done; echo forked; exec sleep 1000`) },
    { id: "exit3", command: sh("sleep 0.2; exit 3"), ...fast, console: false },
    { id: "exit0", command: sh("sleep 0.3; exit 0"), ...fast, console: false },
    { id: "killed", command: sh("sleep 0.25; kill -9 $$"), ...fast, console: false },
  ]);
  await withNode({ config }, async (sb) => {
    await sb.waitForLine(/\[forker\] forked/, 60_000);
    const init = await sb.initPid();
    await new Promise((r) => setTimeout(r, 800)); // the last sleeps end 0.3 s after the loop
    expect(zombies(init)).toEqual([]);

    const exits = (id: string) =>
      matching(sb, new RegExp(`service ${id}: (Waiting|Failed|Finished): exited: `)).map((l) => l.replace(/.*exited: ([^;]*).*/, "$1"));
    const WANT = [
      ["exit3", "exit code 3"],
      ["exit0", "exit code 0"],
      ["killed", "signal 9 (SIGKILL)"],
    ] as const;
    // Each service exits every ~0.3 s; on a loaded machine the forker's loop may end before three
    // rounds: wait (bounded) until each has exited three times, then stop the node.
    for (let t = 0; t < 100 && WANT.some(([id]) => exits(id).length < 3); t++) await Bun.sleep(100);
    await sb.stop("SIGTERM", 30_000);
    for (const [id, want] of WANT) {
      const seen = exits(id);
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(new Set(seen)).toEqual(new Set([want]));
    }
    const report = sb.lines.find((l) => /reaper: \d+ orphans reaped/.test(l))!;
    const orphans = Number(/reaper: (\d+) orphans reaped/.exec(report)![1]);
    expect(orphans).toBeGreaterThanOrEqual(ORPHANS);
    console.log(report.trim());
  });
}, 120_000);
