// A Service whose spec has a `container`, driven through a fake launcher: an
// image that cannot be had is Waiting with the message and retried with the
// backoff (never Running), a start that would fail the same way again is
// Failed, a run's exit restarts it, and a stop during the start leaves
// nothing running.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceEvent } from "../../../src/node/services.ts";
import { CgroupTree } from "../../../src/init/mechanisms/cgroups.ts";
import { ContainerStartError } from "../../../src/init/supervisor/container-runner.ts";
import type { ExitStatus } from "../../../src/init/supervisor/reaper.ts";
import type { ContainerLauncher, Run } from "../../../src/init/supervisor/run.ts";
import { Service, type ServiceHost } from "../../../src/init/supervisor/service.ts";
import { serviceSpec } from "../../../src/init/supervisor/spec.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A run whose exit the test decides. */
function fakeRun(pid: number): Run & { exit(s: ExitStatus): void } {
  let exit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (exit = r));
  return { pid, exited, exit };
}

function setup(start: ContainerLauncher["start"]) {
  const mnt = mkdtempSync(join(tmpdir(), "minos-ctrsvc-"));
  cleanups.push(() => rmSync(mnt, { recursive: true, force: true }));
  const changes: ServiceEvent[] = [];
  const host: ServiceHost = {
    launchContext: {
      reaper: { spawn: () => ({ pid: 0, exited: new Promise(() => {}) }) },
      cgroups: new CgroupTree("/n", mnt),
      viaWrapperd: false,
      canLowerOomScore: false,
      containers: { start },
    },
    nodeEnv: () => ({}),
    waitDependencies: async () => {},
    changed: (_svc, ev) => changes.push(ev),
    log: () => {},
    output: () => {},
  };
  const spec = serviceSpec({
    id: "ext",
    command: [],
    cgroup: "system/extra/ext",
    restart: "always",
    backoff: { initialMs: 20, maxMs: 40 },
    stopGraceMs: 200,
    container: { image: "r/x:1", namespace: "system", env: [], mounts: [], hostNamespaces: [], noNewPrivileges: true },
  });
  const svc = new Service(spec, host, { cgroupDrainMs: 50, exitWaitMs: 200 });
  return { svc, changes };
}

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(5);
  }
}

test("an image that cannot be had: Waiting with the registry's message, retried with the backoff, then Running", async () => {
  let tries = 0;
  const run = fakeRun(4242);
  const { svc, changes } = setup(async (_spec, _line, status) => {
    status("pulling r/x:1");
    if (++tries < 3) throw new ContainerStartError("image r/x:1: registry r: GET /v2/x/manifests/1: 404 Not Found: MANIFEST_UNKNOWN", true);
    return run;
  });
  svc.start();
  await until(() => svc.state === "Running");
  const msgs = changes.map((e) => `${e.state}: ${e.msg}`);
  expect(msgs.filter((m) => m.startsWith("Waiting: image r/x:1: registry r: GET /v2/x/manifests/1: 404 Not Found: MANIFEST_UNKNOWN; retry in "))).toHaveLength(
    2,
  );
  expect(msgs.filter((m) => m === "Preparing: pulling r/x:1")).toHaveLength(3);
  expect(changes.findIndex((e) => e.state === "Running")).toBe(changes.length - 1);
  expect(svc.pid).toBe(4242);
  run.exit({ code: 0, signal: null });
  await svc.stop();
});

test("a start that would fail the same way again (runc's message): Failed, not retried", async () => {
  let tries = 0;
  const { svc, changes } = setup(async () => {
    tries++;
    throw new ContainerStartError('container ext: OCI runtime create failed: exec: "/nope": stat /nope: no such file or directory', false);
  });
  svc.start();
  await until(() => svc.state === "Failed");
  await Bun.sleep(100);
  expect(tries).toBe(1);
  expect(changes.at(-1)!.msg).toBe('cannot start: container ext: OCI runtime create failed: exec: "/nope": stat /nope: no such file or directory');
});

test("a run that exits is restarted (a new run), with the backoff", async () => {
  const runs: ReturnType<typeof fakeRun>[] = [];
  const { svc, changes } = setup(async () => {
    const r = fakeRun(100 + runs.length);
    runs.push(r);
    return r;
  });
  svc.start();
  await until(() => runs.length === 1 && svc.state === "Running");
  runs[0]!.exit({ code: null, signal: 9 });
  await until(() => runs.length === 2 && svc.state === "Running");
  expect(svc.pid).toBe(101);
  expect(changes.some((e) => /^exited: signal 9 \(SIGKILL\); restart 1 in \d+ ms$/.test(e.msg))).toBe(true);
  runs[1]!.exit({ code: 0, signal: null });
  await svc.stop();
});

test("stop() while the container is being made: the run that arrives afterwards is stopped, the service Finished", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // The escalation sends SIGTERM to the run's pid: a real process of ours.
  const child = Bun.spawn(["sleep", "100"], { stdio: ["ignore", "ignore", "ignore"] });
  cleanups.push(() => child.kill("SIGKILL"));
  const run: Run = { pid: child.pid, exited: child.exited.then(() => ({ code: null, signal: 15 }) as ExitStatus) };
  const { svc } = setup(async () => {
    await gate;
    return run;
  });
  svc.start();
  await until(() => svc.state === "Preparing");
  const stopping = svc.stop();
  release();
  expect(await stopping).toMatch(/service ext/);
  await child.exited;
  expect(child.signalCode).toBe("SIGTERM");
  expect(svc.state).toBe("Finished");
});
