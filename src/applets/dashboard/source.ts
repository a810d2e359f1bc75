// What the dashboard needs from a node, in its own words. The poll loop and the
// renderers only know this interface; client-source.ts adapts the machine API
// client to it, and tests feed it fakes. Counters are cumulative (as the
// kernel reports them); metrics.ts turns two samples into rates.

export interface ServiceRow {
  id: string;
  state: string;
  /** undefined: health unknown (the service has no health check yet). */
  healthy: boolean | undefined;
  message: string;
}

export interface ProcessSample {
  pid: number;
  state: string;
  threads: number;
  /** CPU time used so far, seconds. */
  cpuSeconds: number;
  residentBytes: number;
  command: string;
  args: string;
}

export interface NetSample {
  name: string;
  rxBytes: number;
  txBytes: number;
}

export interface DiskSample {
  name: string;
  readBytes: number;
  writeBytes: number;
}

/** Cumulative CPU time of all CPUs (any unit, same for both fields). */
export interface CpuTimes {
  busy: number;
  total: number;
}

export interface EventRow {
  ts: number; // epoch ms
  text: string;
}

export interface ScheduledShutdownInfo {
  action: string;
  at: number; // epoch ms
  message: string;
}

/** Sections a source may fail to provide while the node is still reachable. */
export type Section = "system" | "services" | "log" | "processes" | "net" | "disks" | "config" | "events";

export interface NodeSample {
  hostname: string;
  version: string;
  kernel?: string;
  /** Boot time, epoch ms. */
  bootTime?: number;
  cpu?: CpuTimes;
  cpuCount?: number;
  memory?: { totalBytes: number; availableBytes: number };
  load?: [number, number, number];
  processCount?: number;
  services?: ServiceRow[];
  log?: string[];
  processes?: ProcessSample[];
  net?: NetSample[];
  disks?: DiskSample[];
  config?: string;
  events?: EventRow[];
  scheduledShutdown?: ScheduledShutdownInfo;
  /** The node's global addresses, "eth0 10.0.2.15/24" (minos's Addresses call). */
  addresses?: string[];
  /** Why a section is missing (e.g. "permission denied"); the rest still shows. */
  errors: Partial<Record<Section, string>>;
}

export interface SampleRequest {
  /** How many of the newest node log lines to fetch. */
  logLines: number;
  /** Also fetch the machine config (slow-changing; the loop asks for it now and then). */
  config: boolean;
}

export interface DashboardSource {
  /**
   * One snapshot of the node. Rejects when the node is unreachable (connection
   * refused, lost, timed out); a section the node refuses lands in `errors`.
   */
  sample(req: SampleRequest): Promise<NodeSample>;
  close(): void;
}

/** Opens a source; called again for every reconnect. */
export type SourceFactory = () => Promise<DashboardSource>;
