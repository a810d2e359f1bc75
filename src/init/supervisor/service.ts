// One supervised service: Talos's states (Initialized → Preparing → Waiting →
// Running → Stopping → Finished/Failed/Skipped), a timestamped event history,
// restarts with capped exponential backoff (timers, never busy loops), a health
// loop, and a stop that escalates from SIGTERM to killing the whole cgroup.
import type { ServiceEvent, ServiceHealth, ServiceInfo, ServiceState } from "../backend/contract.ts";
import { LogRing } from "../../lib/ring.ts";
import { kill, SIG } from "../../sys/process.ts";
import { errText } from "../mechanisms/log.ts";
import { describeExit, type ExitStatus } from "./reaper.ts";
import { launch, type LaunchContext, type Run } from "./launch.ts";
import { backoffDelay, type ServiceSpec } from "./spec.ts";

export const MAX_EVENTS = 100;

/** How long stop() waits at its escalation steps; a parameter so tests need not sit through the real ones. */
export interface StopTiming {
  /** After cgroup.kill, how long to wait for the cgroup to empty before giving up on it. */
  cgroupDrainMs: number;
  /**
   * After the SIGKILLs, how long to wait for the reaper to report the exit. A process
   * outside its cgroup (cgroup.kill misses it), a failed cgroup.kill or one stuck in
   * D-state may never be reported; shutdown must still reach unmount, sync and reboot(2).
   */
  exitWaitMs: number;
}
export const STOP_TIMING: StopTiming = { cgroupDrainMs: 5000, exitWaitMs: 5000 };

export interface ServiceHost {
  launchContext: LaunchContext;
  nodeEnv(): Record<string, string>;
  /** Resolves when every dependency is up (or skipped); rejects when `signal` aborts. */
  waitDependencies(spec: ServiceSpec, signal: AbortSignal): Promise<void>;
  /** A service changed state or health. */
  changed(svc: Service, event: ServiceEvent): void;
  log(msg: string): void;
  /** Every output line of the service, after it went into its ring. */
  output(svc: Service, line: string): void;
}

/** Sleeps `ms`, or resolves early (false) when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export class Service {
  readonly logs = new LogRing(2000);
  state: ServiceState = "Initialized";
  private events: ServiceEvent[] = [];
  health: ServiceHealth = { unknown: true, healthy: false, lastMessage: "", lastChange: new Date() };
  /** The current run's process, while one exists. */
  private run: Run | undefined;
  /** Aborted by stop(): ends waits, backoff sleeps and the health loop. */
  private lifetime: AbortController | undefined;
  /** The supervision loop of the current start(), resolved when it ends. */
  private loop: Promise<void> | undefined;
  private stopping: Promise<string> | undefined;
  restarts = 0;

  constructor(
    readonly spec: ServiceSpec,
    private readonly host: ServiceHost,
    private readonly timing: StopTiming = STOP_TIMING,
  ) {
    this.setState("Initialized", "declared");
  }

  get id(): string {
    return this.spec.id;
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  /** Running and (without a health check, or) healthy: what dependents wait for. */
  get up(): boolean {
    return this.state === "Running" && (!this.spec.health || this.health.healthy);
  }

  info(): ServiceInfo {
    return { id: this.id, state: this.state, events: this.events.slice(), health: { ...this.health } };
  }

  /** Starts supervision unless it is already running. Returns a message for the API. */
  start(): string {
    if (this.loop) return `service ${this.id} is already ${this.state}`;
    const lifetime = new AbortController();
    this.lifetime = lifetime;
    this.loop = this.supervise(lifetime.signal)
      .catch((e) => this.setState("Failed", `supervisor error: ${errText(e)}`))
      .finally(() => {
        this.loop = undefined;
      });
    return `service ${this.id} starting`;
  }

  private async supervise(signal: AbortSignal): Promise<void> {
    this.setState("Preparing", "checking preconditions");
    const reason = this.spec.precondition();
    if (reason) return this.setState("Skipped", reason);
    if (this.spec.dependsOn.length > 0) {
      this.setState("Waiting", `waiting for ${this.spec.dependsOn.join(", ")}`);
      try {
        await this.host.waitDependencies(this.spec, signal);
      } catch {
        return; // stopped while waiting; stop() records the state
      }
    }
    let attempt = 0;
    while (!signal.aborted) {
      const t0 = Date.now();
      let run: Run;
      try {
        run = launch(this.spec, this.host.launchContext, this.host.nodeEnv(), (line) => this.output(line));
      } catch (e) {
        this.setState("Failed", `cannot start: ${errText(e)}`);
        return;
      }
      this.run = run;
      this.setState("Running", `started, pid ${run.pid}`);
      if (this.spec.health) void this.healthLoop(signal, run);
      const status = await run.exited;
      this.run = undefined;
      this.setHealth(true, false, `exited: ${describeExit(status)}`, false);
      if (signal.aborted) return; // stop() owns the state from here
      // A run that exits leaves no stray child behind (a daemonised grandchild would escape supervision).
      await this.killCgroup();
      if (!this.shouldRestart(status)) {
        const ok = status.code === 0;
        this.setState(ok ? "Finished" : "Failed", `exited: ${describeExit(status)}`);
        return;
      }
      attempt = Date.now() - t0 >= this.spec.backoffResetMs ? 1 : attempt + 1;
      const delay = backoffDelay(attempt, this.spec.backoff);
      this.restarts++;
      this.setState("Waiting", `exited: ${describeExit(status)}; restart ${this.restarts} in ${delay} ms`);
      if (!(await sleep(delay, signal))) return;
    }
  }

  private shouldRestart(s: ExitStatus): boolean {
    if (this.spec.restart === "always") return true;
    if (this.spec.restart === "never") return false;
    return s.code !== 0;
  }

  private async healthLoop(signal: AbortSignal, run: Run): Promise<void> {
    const h = this.spec.health!;
    let everHealthy = false;
    while (!signal.aborted && this.run === run) {
      let ok = true;
      let msg = "";
      try {
        await withTimeout(h.check(), h.timeoutMs);
      } catch (e) {
        ok = false;
        msg = errText(e);
      }
      if (signal.aborted || this.run !== run) return;
      this.setHealth(false, ok, ok ? "" : msg, true);
      everHealthy ||= ok;
      if (!(await sleep(everHealthy ? h.intervalMs : h.startIntervalMs, signal))) return;
    }
  }

  /**
   * Stops supervision: SIGTERM to the service, `stopGraceMs` to exit, then
   * SIGKILL to its process group and cgroup.kill for the whole cgroup (children
   * included). Always returns in bounded time, even when the process never exits.
   * Concurrent calls share one stop.
   */
  stop(): Promise<string> {
    this.stopping ??= this.doStop().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async doStop(): Promise<string> {
    const lifetime = this.lifetime;
    const loop = this.loop;
    if (!loop || !lifetime) {
      return `service ${this.id} is not running (${this.state})`;
    }
    lifetime.abort();
    const run = this.run;
    let how = "stopped";
    let gone = true;
    if (run) {
      this.setState("Stopping", `sending SIGTERM to pid ${run.pid}, grace ${this.spec.stopGraceMs} ms`);
      try {
        kill(run.pid, SIG.SIGTERM);
      } catch {}
      const inTime = await raceTimeout(run.exited, this.spec.stopGraceMs);
      if (inTime === undefined) {
        how = `grace of ${this.spec.stopGraceMs} ms elapsed: killed its cgroup`;
        this.host.log(`service ${this.id}: ${how}`);
        // The service is a session leader (spawned with setsid), so its pgid is its pid:
        // this reaches it and the children it kept in its group even when they are not
        // in its cgroup (or cgroup.kill fails). Sent before cgroup.kill, while the
        // unreaped leader still pins the pid, so it cannot hit a reused pid.
        try {
          kill(-run.pid, SIG.SIGKILL);
        } catch {}
      }
      await this.killCgroup();
      const status = await raceTimeout(run.exited, this.timing.exitWaitMs);
      if (status) how += ` (${describeExit(status)})`;
      else {
        gone = false;
        how += `; pid ${run.pid} did not exit ${this.timing.exitWaitMs} ms after SIGKILL, left behind`;
        this.host.log(`service ${this.id}: pid ${run.pid} did not exit ${this.timing.exitWaitMs} ms after SIGKILL; moving on`);
      }
    }
    const drained = await this.killCgroup();
    // The supervision loop ends once the run's exit is reported; when it never is, do not wait on it.
    if (gone) await loop;
    this.setState(gone ? "Finished" : "Failed", `${how}${drained ? "" : "; cgroup still populated"}`);
    this.lifetime = undefined;
    return `service ${this.id} ${how}`;
  }

  /** cgroup.kill, then wait (bounded) for the cgroup to empty; false when it did not. */
  private async killCgroup(): Promise<boolean> {
    const cg = this.host.launchContext.cgroups;
    if (cg.populated(this.spec.cgroup)) {
      try {
        cg.kill(this.spec.cgroup);
      } catch (e) {
        this.host.log(`service ${this.id}: cgroup.kill failed: ${errText(e)}`);
      }
    }
    return cg.waitEmpty(this.spec.cgroup, this.timing.cgroupDrainMs);
  }

  private output(line: string): void {
    this.logs.push(line);
    this.host.output(this, line);
  }

  private setState(state: ServiceState, msg: string): void {
    this.state = state;
    this.pushEvent({ msg, state, ts: new Date() });
  }

  private setHealth(unknown: boolean, healthy: boolean, msg: string, announce: boolean): void {
    const changed = this.health.unknown !== unknown || this.health.healthy !== healthy;
    this.health = { unknown, healthy, lastMessage: msg, lastChange: changed ? new Date() : this.health.lastChange };
    if (changed && announce) {
      this.pushEvent({ msg: healthy ? "health check successful" : `health check failed: ${msg}`, state: this.state, ts: new Date() });
    }
  }

  /** The one way into the history: keeps it at MAX_EVENTS (a flapping health check would otherwise grow it forever). */
  private pushEvent(ev: ServiceEvent): void {
    this.events.push(ev);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.host.changed(this, ev);
  }
}

/** `p`'s value, or undefined once `ms` passed first (the timer is cleared either way). */
function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
