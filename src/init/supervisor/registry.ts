// All services of the node: dependency waits, start of everything, stop in
// reverse dependency order (a service stops only after every service that
// depends on it has stopped), and the one-time "all services healthy" moment.
import { NotFoundError } from "../../lib/errors.ts";
import type { LaunchContext } from "./launch.ts";
import type { ContainerLauncher } from "./run.ts";
import { Service, type ServiceHost } from "./service.ts";
import type { ServiceSpec } from "./spec.ts";

import type { NewEvent } from "../../node/events.ts";

export interface RegistryOptions {
  launchContext: LaunchContext;
  nodeEnv(): Record<string, string>;
  /** Every state and health change goes to the node's event bus (and the log) from here. */
  events: { emit(e: NewEvent): unknown };
  log(msg: string): void;
  output(svc: Service, line: string): void;
}

export class ServiceRegistry {
  private services = new Map<string, Service>();
  private waiters = new Set<() => void>();

  constructor(private readonly hooks: RegistryOptions) {}

  declare(spec: ServiceSpec): Service {
    if (this.services.has(spec.id)) throw new Error(`service ${spec.id} declared twice`);
    const host: ServiceHost = {
      launchContext: this.hooks.launchContext,
      nodeEnv: () => this.hooks.nodeEnv(),
      waitDependencies: (s, signal) => this.waitDependencies(s, signal),
      changed: (svc, ev) => {
        this.hooks.log(`service ${svc.id}: ${ev.state}: ${ev.msg}`);
        this.hooks.events.emit({ kind: "service", service: svc.id, state: ev.state, message: ev.msg, health: { ...svc.health } });
        this.wake();
      },
      log: (m) => this.hooks.log(m),
      output: (svc, line) => this.hooks.output(svc, line),
    };
    const svc = new Service(spec, host);
    this.services.set(spec.id, svc);
    return svc;
  }

  /** What runs container services, when the node has a container runtime; one-shot containers (etcd's restore) use it too. */
  get containers(): ContainerLauncher | undefined {
    return this.hooks.launchContext.containers;
  }

  get(id: string): Service {
    const s = this.services.get(id);
    if (!s) throw new NotFoundError(`service "${id}" not found; services: ${[...this.services.keys()].join(", ")}`);
    return s;
  }

  /** The service, or undefined for an unknown id. */
  find(id: string): Service | undefined {
    return this.services.get(id);
  }

  has(id: string): boolean {
    return this.services.has(id);
  }

  all(): Service[] {
    return [...this.services.values()];
  }

  startAll(): void {
    for (const s of this.services.values()) s.start();
  }

  /** A dependency counts as satisfied when up, or skipped (its dependents' own preconditions decide). */
  private satisfied(id: string): boolean {
    const d = this.services.get(id);
    return d !== undefined && (d.up || d.state === "Skipped");
  }

  private waitDependencies(spec: ServiceSpec, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (signal.aborted) {
          this.waiters.delete(check);
          return reject(new Error("aborted"));
        }
        if (spec.dependsOn.every((d) => this.satisfied(d))) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      signal.addEventListener("abort", check, { once: true });
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Stops every service, dependents before their dependencies, independent ones in parallel. */
  async stopAll(onStopped: (id: string, msg: string) => void = () => {}): Promise<void> {
    const done = new Map<string, Promise<void>>();
    const visiting = new Set<string>();
    const stopOne = (id: string): Promise<void> => {
      let p = done.get(id);
      if (p) return p;
      if (visiting.has(id)) return Promise.resolve(); // a dependency cycle: do not wait on ourselves
      visiting.add(id);
      const dependents = this.all().filter((s) => s.spec.dependsOn.includes(id));
      p = Promise.all(dependents.map((d) => stopOne(d.id))).then(async () => {
        const msg = await this.get(id).stop();
        onStopped(id, msg);
      });
      done.set(id, p);
      return p;
    };
    await Promise.all(this.all().map((s) => stopOne(s.id)));
  }

  /**
   * Every service is settled for good: up, skipped, finished successfully, or
   * waiting in its prepare step for something outside the node (etcd before
   * its Bootstrap: the boot is done, the cluster is the operator's move).
   */
  allHealthy(): boolean {
    return this.all().every(
      (s) =>
        s.spec.awaitedAtBoot === false ||
        s.up ||
        s.state === "Skipped" ||
        s.preparing ||
        (s.state === "Finished" && !s.info().events.some((e) => e.state === "Stopping")),
    );
  }
}
