// What a service is (Talos's service interface, as data): an id, a command run
// through wrapperd with dropped capabilities, a cgroup and an oom score,
// dependencies, a precondition that can skip it with a reason, a restart
// policy with capped exponential backoff, an optional health check and a stop
// grace period.
import type { RestartPolicy } from "../config/machine.ts";
import type { ContainerRunSpec } from "./oci-spec.ts";

export type { RestartPolicy };

export interface HealthCheck {
  /** Resolves when healthy; throws (with the reason) when not. */
  check(): Promise<void>;
  /** Checks run this often until the first success... */
  startIntervalMs: number;
  /** ...and this often after it. */
  intervalMs: number;
  timeoutMs: number;
}

export interface ServiceSpec {
  id: string;
  /** Services that must be up (Running and healthy) before this one starts. */
  dependsOn: string[];
  /** The reason to skip the service, or undefined to run it. Checked at every start. */
  precondition(): string | undefined;
  /** Absolute path first. */
  command: string[];
  env: Record<string, string>;
  /** Capabilities taken away by wrapperd (names as in capabilities(7)). */
  droppedCaps: string[];
  /** The service's cgroup, relative to the node's root cgroup ("system/runtime"). */
  cgroup: string;
  oomScore: number;
  /** A terminal the service gets as stdio and controlling tty (the dashboard); otherwise output goes to its log ring. */
  tty?: string;
  restart: RestartPolicy;
  backoff: { initialMs: number; maxMs: number };
  /** A run at least this long resets the backoff to its initial delay. */
  backoffResetMs: number;
  stopGraceMs: number;
  health?: HealthCheck;
  /** Mirror the service's output lines on the node console. */
  console: boolean;
  /**
   * Talos's PreFunc: runs before every launch, after the dependencies are up.
   * It may wait (etcd waits for a Bootstrap or a member to join through),
   * telling why through `waiting` (the service shows Waiting with it), and may
   * set `command` for this launch. Throwing fails the start.
   */
  prepare?(ctx: { signal: AbortSignal; waiting(reason: string): void }): Promise<void>;
  /** Run as a containerd task of an image (container-runner.ts) instead of `command` through wrapperd. */
  container?: ContainerRunSpec;
  /**
   * false: an exit leaves the rest of the cgroup alone (containerd: its shims,
   * and so the containers, outlive a containerd crash and are picked up again
   * by the restarted one). A stop still kills the whole cgroup.
   */
  killCgroupOnExit?: boolean;
  /** false: the boot's "all services healthy" does not wait for this one (the kubelet, as in Talos). */
  awaitedAtBoot?: boolean;
}

export const DEFAULT_STOP_GRACE_MS = 10_000;
export const DEFAULT_BACKOFF = { initialMs: 250, maxMs: 30_000 };

/** The delay before restart number `attempt` (1-based): initial * 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, b: { initialMs: number; maxMs: number }): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

/** The fields a spec must name; everything else has a default (serviceSpec). */
export type ServiceSpecFields = Pick<ServiceSpec, "id" | "command" | "cgroup"> & Partial<ServiceSpec>;

/**
 * A spec from what differs: no dependencies, always runnable, no env, no caps
 * dropped, oom score 0, restart always with the default backoff (reset after a
 * minute up), the default stop grace, no health check, not on the console.
 */
export function serviceSpec(fields: ServiceSpecFields): ServiceSpec {
  return {
    dependsOn: [],
    precondition: () => undefined,
    env: {},
    droppedCaps: [],
    oomScore: 0,
    restart: "always",
    backoff: DEFAULT_BACKOFF,
    backoffResetMs: 60_000,
    stopGraceMs: DEFAULT_STOP_GRACE_MS,
    console: false,
    ...fields,
  };
}
