// Time as the API reports it: the node's SNTP state (the "time synced"
// condition) and one answer of a time server next to the node's own clock.

export interface TimeSyncInfo {
  enabled: boolean;
  synced: boolean;
  servers: string[];
  /** The server of the last applied sample. */
  server?: string;
  offsetMs?: number;
  /** "system" on a node's own kernel; "log-only" in the sandbox, where the clock is the host's. */
  adjuster: string;
  lastError?: string;
}

export interface TimeAnswer {
  server: string;
  /** The node's clock when the answer arrived, Unix ns. */
  localNs: bigint;
  /** The server's transmit time, Unix ns. */
  remoteNs: bigint;
}
