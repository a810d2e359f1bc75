// Machine API server (placeholder: the API issue replaces this file). init
// calls startMachineApi() in its "api" boot phase with its MachineBackend.
import type { MachineBackend } from "./backend.ts";

export interface MachineApiOptions {
  /** Unix socket, full access (mode 0600): /system/run/machined/machine.sock on a node. */
  socketPath: string;
  /** TCP port for mutual-TLS remote access (50000 on a node); omitted = no TCP listener. */
  tcpPort?: number;
  /** Node CA for mutual TLS, PEM. */
  ca?: { cert: string; key: string };
}

export interface MachineApi {
  close(): Promise<void>;
}

export async function startMachineApi(_backend: MachineBackend, _opts: MachineApiOptions): Promise<MachineApi> {
  return { close: async () => {} };
}
