// src/time: the SNTP client that keeps a node's clock on time (machine.time).
export { startTimeSync } from "./sync.ts";
export type { PolicyOptions } from "./policy.ts";
export type {
  TimeSync,
  TimeSyncOptions,
  TimeSyncDeps,
  TimeSyncStatus,
  TimeSyncEvents,
  SampleEvent,
  SampleAction,
  SyncError,
  SyncErrorReason,
  ReadyOutcome,
} from "./sync.ts";
export { queryServer } from "./oneshot.ts";
export type { QueryServerResult } from "./oneshot.ts";
export { systemAdjuster, systemClock, logOnlyClock } from "./adjuster.ts";
export type { ClockAdjuster, Adjustment, LoggedAdjustment } from "./adjuster.ts";
export { DEFAULT_SERVERS, parseServer } from "./servers.ts";
export type { Sample, Failure, FailReason } from "./query.ts";
export type { Clock, Timers, UdpTransport, Resolver } from "./deps.ts";
export { timeSyncOptions, parseGoDuration } from "./config.ts";
export type { MachineTimeConfig } from "./config.ts";
export { toProtoTimestamp } from "./timestamp.ts";
