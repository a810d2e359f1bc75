// The node's events (Talos: ServiceStateEvent, SequenceEvent, PhaseEvent, ...),
// as init emits them and the Events stream sends them.
import type { PowerAction } from "./power.ts";
import type { ServiceHealth, ServiceState } from "./services.ts";

/** The sequences init runs (src/init/sequences). */
export type SequenceName = "boot" | "shutdown" | "reboot" | "halt" | "emergency";

/** The events without the actor id every one of them may carry. */
export type NodeEventBody =
  | { kind: "service"; id: string; ts: Date; service: string; state: ServiceState; message: string; health: ServiceHealth }
  | { kind: "sequence"; id: string; ts: Date; sequence: string; action: "start" | "stop"; error?: string }
  | { kind: "phase"; id: string; ts: Date; phase: string; action: "start" | "stop"; error?: string }
  | { kind: "task"; id: string; ts: Date; task: string; action: "start" | "stop"; error?: string }
  | { kind: "shutdown-scheduled"; id: string; ts: Date; action: PowerAction; at: Date; message: string }
  | { kind: "shutdown-cancelled"; id: string; ts: Date; message: string }
  | { kind: "config"; id: string; ts: Date; message: string }
  | { kind: "config-load-error"; id: string; ts: Date; error: string }
  | { kind: "config-validation-error"; id: string; ts: Date; error: string }
  | { kind: "machine-status"; id: string; ts: Date; stage: MachineStage; ready: boolean; unmet: UnmetCondition[] }
  // Talos's AddressEvent: the node's hostname and its addresses, sent when the set changes.
  | { kind: "address"; id: string; ts: Date; hostname: string; addresses: string[] }
  // minos: what the network phase reports beyond addresses (a configured interface that is missing).
  | { kind: "network"; id: string; ts: Date; message: string }
  /** Pull progress of one layer (at the log's rate: start, about once a second, end). */
  | { kind: "image-pull"; id: string; ts: Date; image: string; layer: number; layers: number; digest: string; received: number; total: number };

/** Talos's machine stages (MachineStatusEvent). */
export type MachineStage = "booting" | "maintenance" | "running" | "rebooting" | "shutting_down" | "resetting";

export interface UnmetCondition {
  name: string;
  reason: string;
}

/** An event; it may name the API call that caused it (Talos's actor id). */
export type NodeEvent = NodeEventBody & { actorId?: string };

type Distribute<T> = T extends unknown ? Omit<T, "id" | "ts"> & { actorId?: string } : never;
/** An event before the bus gives it an id and a time. */
export type NewEvent = Distribute<NodeEventBody>;
