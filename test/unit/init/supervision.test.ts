// One Service outside a node: a fake reaper and a cgroup tree under a temp
// directory stand in for PID 1's, so stop() and the event history can be driven
// directly. The processes are real (started here, detached into their own
// session as a service is) and every one is killed by pid before the test ends.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceEvent } from "../../../src/node/services.ts";
import { CgroupTree } from "../../../src/init/mechanisms/cgroups.ts";
import type { ExitStatus } from "../../../src/init/supervisor/reaper.ts";
import type { Spawner } from "../../../src/init/supervisor/launch.ts";
import { MAX_EVENTS, Service, type ServiceHost } from "../../../src/init/supervisor/service.ts";
import { serviceSpec, type HealthCheck } from "../../../src/init/supervisor/spec.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A process that ignores SIGTERM (as does its child), in its own session: pgid == pid, like a service. */
async function stubborn(): Promise<ReturnType<typeof Bun.spawn>> {
  const child = Bun.spawn(["sh", "-c", "trap '' TERM; echo ready; sleep 1000 & wait"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  cleanups.push(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  });
  // Only once the trap is set does the process really ignore SIGTERM.
  await child.stdout.getReader().read();
  return child;
}

function exitOf(child: ReturnType<typeof Bun.spawn>): Promise<ExitStatus> {
  return child.exited.then(() =>
    child.signalCode ? { code: null, signal: constants.signals[child.signalCode as NodeJS.Signals] } : { code: child.exitCode ?? 0, signal: null },
  );
}

async function setup(exited: (child: ReturnType<typeof Bun.spawn>) => Promise<ExitStatus>, health?: HealthCheck) {
  // A cgroup tree in a temp dir: the process is never in "its cgroup", so cgroup.kill cannot reach it.
  const mnt = mkdtempSync(join(tmpdir(), "minos-svc-"));
  cleanups.push(() => rmSync(mnt, { recursive: true, force: true }));
  const child = await stubborn();
  const reaper: Spawner = { spawn: () => ({ pid: child.pid, exited: exited(child) }) };
  const logs: string[] = [];
  const changes: ServiceEvent[] = [];
  const host: ServiceHost = {
    launchContext: { reaper, cgroups: new CgroupTree("/n", mnt), viaWrapperd: false, canLowerOomScore: false },
    nodeEnv: () => ({}),
    waitDependencies: async () => {},
    changed: (_svc, ev) => changes.push(ev),
    log: (m) => logs.push(m),
    output: () => {},
  };
  const spec = serviceSpec({
    id: "stuck",
    command: ["/bin/true"],
    cgroup: "system/extra/stuck",
    restart: "never",
    backoff: { initialMs: 100, maxMs: 100 },
    backoffResetMs: 1000,
    stopGraceMs: 200,
    health,
  });
  const svc = new Service(spec, host, { cgroupDrainMs: 100, exitWaitMs: 300 });
  return { svc, child, logs, changes };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

test("stop() of a service whose exit is never reported (outside its cgroup, ignoring SIGTERM) SIGKILLs its group and returns", async () => {
  // The reaper never reports the exit: what a D-state process, or one cgroup.kill cannot reach, looks like to init.
  const { svc, child, logs } = await setup(() => new Promise<ExitStatus>(() => {}));
  svc.start();
  await until(() => svc.state === "Running", 2000);
  const msg = await Promise.race([svc.stop(), Bun.sleep(5000).then(() => "stop() hung")]);
  expect(msg).toContain("did not exit");
  expect(logs.some((l) => l.includes("did not exit"))).toBe(true);
  expect(svc.state).toBe("Failed");
  // kill(-pid, SIGKILL) reached the session leader although it was in no cgroup of ours.
  await Promise.race([child.exited, Bun.sleep(2000)]);
  expect(child.signalCode).toBe("SIGKILL");
}, 15_000);

test("stop() of a SIGTERM-ignoring service outside its cgroup kills it through its process group", async () => {
  const { svc, child } = await setup(exitOf);
  svc.start();
  await until(() => svc.state === "Running", 2000);
  const msg = await Promise.race([svc.stop(), Bun.sleep(5000).then(() => "stop() hung")]);
  expect(msg).toContain("grace of 200 ms elapsed");
  expect(msg).toContain("SIGKILL");
  expect(child.signalCode).toBe("SIGKILL");
  expect(svc.state).toBe("Finished");
}, 15_000);

test("a flapping health check keeps the event history at MAX_EVENTS", async () => {
  let n = 0;
  const flapping: HealthCheck = {
    check: async () => {
      if (n++ % 2) throw new Error("flap");
    },
    startIntervalMs: 0,
    intervalMs: 0,
    timeoutMs: 1000,
  };
  const { svc, changes } = await setup(exitOf, flapping);
  svc.start();
  await until(() => changes.filter((e) => e.msg.startsWith("health check")).length >= 10 * MAX_EVENTS, 30_000);
  expect(svc.info().events.length).toBe(MAX_EVENTS);
  await svc.stop();
}, 40_000);
