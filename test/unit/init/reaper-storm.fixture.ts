// Run by reaper-storm.test.ts in a process of its own (its waitpid(-1) must not
// take the exits of the test runner's children): a Reaper in a child
// subreaper, an orphan storm from a shell, supervised exits during and after it.
import { setChildSubreaper } from "../../../src/sys/prctl.ts";
import { Reaper } from "../../../src/init/supervisor/reaper.ts";

const ORPHANS = Number(process.argv[2] ?? 500);
setChildSubreaper();
// A storm as soon as 4 signal-driven drains find exits within a second: deterministic on a loaded machine.
const reaper = new Reaper((e) => console.error(e), { drains: 4, windowMs: 1000, pollMs: 4 });
reaper.install();
const sh = (script: string) => reaper.spawn({ path: "/bin/sh", argv: ["sh", "-c", script], env: [] });
// The shell forks ORPHANS sleeps and exits before the first ends (so it reaps none): each is reparented to us.
const storm = sh(`i=0; while [ $i -lt ${ORPHANS} ]; do sleep 2 & i=$((i+1)); done; exit 0`);
const during = sh("sleep 2.1; exit 7");
const codes = [(await storm.exited).code, (await during.exited).code];
const settled = await reaper.waitNoChildren(20_000);
const stormed = reaper.snapshot();
// After the storm the reaper listens for SIGCHLD again: a lone exit arrives.
const t0 = performance.now();
const after = sh("exit 3");
codes.push((await after.exited).code);
const lateMs = performance.now() - t0;
reaper.stop();
console.log(JSON.stringify({ codes, settled, stormed, listeners: process.listenerCount("SIGCHLD"), lateMs, final: reaper.snapshot() }));
process.exit(0);
