// The reaper in an exit storm: it switches from one drain per SIGCHLD to timed
// drains (STORM in src/init/supervisor/reaper.ts), loses no exit status on the
// way, and listens for SIGCHLD again once the storm is over.
import { expect, test } from "bun:test";

test("an orphan storm is drained by polling; supervised exit codes arrive during and after it", () => {
  const r = Bun.spawnSync([process.execPath, `${import.meta.dir}/reaper-storm.fixture.ts`, "500"], { stderr: "pipe", timeout: 60_000 });
  expect(r.stderr.toString()).toBe("");
  const out = JSON.parse(r.stdout.toString()) as {
    codes: number[];
    settled: boolean;
    stormed: { orphans: number; watched: number; storms: number };
    listeners: number;
    lateMs: number;
    final: { watched: number; storms: number };
  };
  expect(out.codes).toEqual([0, 7, 3]);
  expect(out.settled).toBe(true);
  expect(out.stormed.orphans).toBe(500);
  expect(out.stormed.watched).toBe(2);
  expect(out.stormed.storms).toBeGreaterThanOrEqual(1);
  // Back on SIGCHLD: the exit after the storm came by signal, not by the 5 s safety drain.
  expect(out.final.watched).toBe(3);
  expect(out.lateMs).toBeLessThan(1000);
}, 60_000);
