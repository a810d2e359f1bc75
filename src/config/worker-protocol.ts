// Messages between PID 1's main thread (offthread.ts) and the config worker
// (worker.ts). One request at a time: validate, then the result's tape pulled
// slice by slice (transfer.ts), so the main thread rebuilds it in bounded steps.
import type { Slice } from "./transfer.ts";

export type ToWorker = { op: "validate"; id: number; input: Uint8Array | string } | { op: "slice"; id: number; index: number };

export type FromWorker =
  /** Valid: the text, and how many slices the tape of { config, warnings, documents, redaction } has. */
  | { op: "valid"; id: number; text: string; slices: number }
  /** Refused (or failed): the error's class name and message. */
  | { op: "invalid"; id: number; name: string; message: string }
  | { op: "slice"; id: number; index: number; slice: Slice };

/** Tokens per slice: 2,048 strings cost the receiving thread ~1-5 ms (8,192: up to 40 ms on a loaded machine) to deserialize and rebuild. */
export const SLICE_TOKENS = 2048;

/** The worker thread's nice value (PID 1's loop runs at 0). */
export const WORKER_NICE = 10;
