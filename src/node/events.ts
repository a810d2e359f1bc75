// The node's events (Talos: ServiceStateEvent, SequenceEvent, PhaseEvent, ...),
// as init emits them and the Events stream sends them.
import type { PowerAction } from "./power.ts";
import type { ServiceHealth, ServiceState } from "./services.ts";

/** The sequences init runs (src/init/sequences). */
export type SequenceName = "boot" | "shutdown" | "reboot" | "halt" | "emergency";

export type NodeEvent =
  | { kind: "service"; id: string; ts: Date; service: string; state: ServiceState; message: string; health: ServiceHealth }
  | { kind: "sequence"; id: string; ts: Date; sequence: string; action: "start" | "stop"; error?: string }
  | { kind: "phase"; id: string; ts: Date; phase: string; action: "start" | "stop"; error?: string }
  | { kind: "task"; id: string; ts: Date; task: string; action: "start" | "stop"; error?: string }
  | { kind: "shutdown-scheduled"; id: string; ts: Date; action: PowerAction; at: Date; message: string }
  | { kind: "shutdown-cancelled"; id: string; ts: Date; message: string }
  | { kind: "config"; id: string; ts: Date; message: string }
  /** Pull progress of one layer (at the log's rate: start, about once a second, end). */
  | { kind: "image-pull"; id: string; ts: Date; image: string; layer: number; layers: number; digest: string; received: number; total: number };

type Distribute<T> = T extends unknown ? Omit<T, "id" | "ts"> : never;
/** An event before the bus gives it an id and a time. */
export type NewEvent = Distribute<NodeEvent>;
