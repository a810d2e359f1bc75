// Services as every layer sees them: Talos's service states and the records
// ServiceList reports. init's supervisor produces them, the API converts them.

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
