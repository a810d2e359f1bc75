// One supervised service's lifecycle: Talos's states (Initialized → Preparing →
// Waiting → Running → Stopping → Finished/Failed/Skipped), a timestamped event
// history, restarts with capped exponential backoff (timers, never busy loops).
// The health loop (health-loop.ts) and the stop escalation (stop.ts) are their
// own files.
import type { ServiceEvent, ServiceHealth, ServiceInfo, ServiceState } from "../../node/services.ts";
import { LogRing } from "../../lib/ring.ts";
import { sleep } from "../../lib/timers.ts";
import { errText } from "../mechanisms/log.ts";
import { runHealthLoop } from "./health-loop.ts";
import { describeExit, type ExitStatus } from "./reaper.ts";
import { escalateStop, STOP_TIMING, type StopTarget, type StopTiming } from "./stop.ts";
import { launch, type LaunchContext, type Run } from "./launch.ts";
import { backoffDelay, type ServiceSpec } from "./spec.ts";
import { ContainerStartError } from "./container-runner.ts";

export const MAX_EVENTS = 100;

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
      if (this.spec.prepare && !(await this.prepare(signal))) return;
      const t0 = Date.now();
      let run: Run;
      try {
        run = this.spec.container ? await this.startContainer() : launch(this.spec, this.host.launchContext, this.host.nodeEnv(), (line) => this.output(line));
      } catch (e) {
        if (!(e instanceof ContainerStartError && e.retry) || this.spec.restart === "never") {
          this.setState("Failed", `cannot start: ${errText(e)}`);
          return;
        }
        // The image cannot be had right now: Waiting with the registry's error, then again with the backoff.
        attempt++;
        const delay = backoffDelay(attempt, this.spec.backoff);
        this.setState("Waiting", `${errText(e)}; retry in ${delay} ms`);
        if (!(await sleep(delay, signal))) return;
        continue;
      }
      if (signal.aborted) {
        // stop() came while the container was being made: it is not ours to keep.
        await escalateStop(run, this.stopTarget());
        return;
      }
      this.run = run;
      this.setState("Running", `started, pid ${run.pid}`);
      if (this.spec.health)
        void runHealthLoop(
          this.spec.health,
          signal,
          () => this.run === run,
          (ok, msg) => this.setHealth(false, ok, msg, true),
        );
      const status = await run.exited;
      this.run = undefined;
      this.setHealth(true, false, `exited: ${describeExit(status)}`, false);
      if (signal.aborted) return; // stop() owns the state from here
      // A run that exits leaves no stray child behind (a daemonised grandchild would escape supervision).
      if (this.spec.killCgroupOnExit !== false) await this.killCgroup();
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

  /** Waiting in the spec's prepare step (for an operator or a peer, not for a process). */
  preparing = false;

  /** Runs the spec's prepare step; false when the start is over (stopped, or prepare failed). */
  private async prepare(signal: AbortSignal): Promise<boolean> {
    this.preparing = true;
    let last = "";
    try {
      await this.spec.prepare!({
        signal,
        waiting: (reason) => {
          if (signal.aborted || (reason === last && this.state === "Waiting")) return;
          last = reason;
          this.setState("Waiting", reason);
        },
      });
    } catch (e) {
      if (!signal.aborted) this.setState("Failed", `cannot start: ${errText(e)}`);
      return false;
    } finally {
      this.preparing = false;
    }
    return !signal.aborted;
  }

  private startContainer(): Promise<Run> {
    const launcher = this.host.launchContext.containers;
    if (!launcher) return Promise.reject(new Error("no container runtime on this node"));
    return launcher.start(
      this.spec,
      (line) => this.output(line),
      (msg) => this.setState("Preparing", msg),
    );
  }

  private shouldRestart(s: ExitStatus): boolean {
    if (this.spec.restart === "always") return true;
    if (this.spec.restart === "never") return false;
    return s.code !== 0;
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
    const { how, gone } = this.run ? await escalateStop(this.run, this.stopTarget()) : { how: "stopped", gone: true };
    const drained = await this.killCgroup();
    // The supervision loop ends once the run's exit is reported; when it never is, do not wait on it.
    if (gone) await loop;
    this.setState(gone ? "Finished" : "Failed", `${how}${drained ? "" : "; cgroup still populated"}`);
    this.lifetime = undefined;
    return `service ${this.id} ${how}`;
  }

  /** What the stop escalation needs of this service. */
  private stopTarget(): StopTarget {
    return {
      id: this.id,
      graceMs: this.spec.stopGraceMs,
      timing: this.timing,
      stopping: (msg) => this.setState("Stopping", msg),
      log: (msg) => this.host.log(msg),
      killCgroup: () => this.killCgroup(),
    };
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
