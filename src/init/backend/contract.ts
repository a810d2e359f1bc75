// The contract between init (which owns services, config, sequences and logs)
// and the machine API server (which exposes them over gRPC). init implements
// MachineBackend; src/api only calls it. Errors thrown are those of
// src/lib/errors.ts and map to gRPC statuses.
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";

/** Talos's service states, as ServiceList reports them. */
export type ServiceState = "Initialized" | "Preparing" | "Waiting" | "Running" | "Stopping" | "Finished" | "Failed" | "Skipped";

export interface ServiceEvent {
  msg: string;
  state: ServiceState;
  ts: Date;
}

export interface ServiceHealth {
  unknown: boolean;
  healthy: boolean;
  lastMessage: string;
  lastChange: Date;
}

export interface ServiceInfo {
  id: string;
  state: ServiceState;
  events: ServiceEvent[];
  health: ServiceHealth;
}

/** A node event for the Events stream (Talos: ServiceStateEvent, SequenceEvent, PhaseEvent, ...). */
export type NodeEvent =
  | { kind: "service"; id: string; ts: Date; service: string; state: ServiceState; message: string; health: ServiceHealth }
  | { kind: "sequence"; id: string; ts: Date; sequence: string; action: "start" | "stop"; error?: string }
  | { kind: "phase"; id: string; ts: Date; phase: string; action: "start" | "stop"; error?: string }
  | { kind: "task"; id: string; ts: Date; task: string; action: "start" | "stop"; error?: string }
  | { kind: "shutdown-scheduled"; id: string; ts: Date; action: PowerAction; at: Date; message: string }
  | { kind: "shutdown-cancelled"; id: string; ts: Date; message: string }
  | { kind: "config"; id: string; ts: Date; message: string };

export type PowerAction = "poweroff" | "halt" | "reboot";

export interface ScheduledShutdown {
  action: PowerAction;
  at: Date;
  message: string;
}

export type ApplyMode = "no_reboot" | "reboot" | "try" | "auto";

export interface ApplyResult {
  mode: ApplyMode;
  /** Human summary: what was applied live, what needs a reboot. */
  details: string;
  /** Keys that changed but only take effect after a reboot. */
  needsReboot: string[];
}

export interface VersionInfo {
  tag: string;
  sha: string;
  built: string;
  goVersion: string; // Talos field; we report the Bun version here
  os: string;
  arch: string;
}

export interface MachineBackend {
  hostname(): string;
  version(): VersionInfo;

  listServices(): ServiceInfo[];
  /** Throw NotFoundError for an unknown id. */
  startService(id: string): Promise<string>;
  stopService(id: string): Promise<string>;
  restartService(id: string): Promise<string>;

  /** A service's (or "machined" for init's own) log ring; undefined when unknown. */
  logs(id: string): LogRing | undefined;

  /** Past events (newest last) and live ones. */
  eventHistory(): NodeEvent[];
  subscribeEvents(fn: (e: NodeEvent) => void): Unsubscribe;

  /** Start the shutdown/reboot sequence now (FailedPreconditionError when another non-boot sequence runs). */
  powerAction(action: PowerAction): void;
  scheduleShutdown(s: ScheduledShutdown): void;
  /** Returns false when nothing was scheduled. */
  cancelScheduledShutdown(): boolean;
  scheduledShutdown(): ScheduledShutdown | undefined;

  /** The effective machine config as YAML text. */
  configYaml(): string;
  /** Validate and apply (InvalidArgumentError with the validation message; stored config untouched). */
  applyConfiguration(yaml: string, mode: ApplyMode, tryTimeoutMs?: number): Promise<ApplyResult>;
}
