// The config worker's entry (a Bun Worker; build/compile.ts embeds it beside
// src/main.ts): validates a machine config and hands the result back in slices.
// Holds at most one result; the main thread pulls it and then asks again.
import { readdirSync, readFileSync } from "node:fs";
import { setNiceOf, setThreadNice } from "../sys/sched.ts";
import { sliceCount, sliceOf, toTape, type Tape } from "./transfer.ts";
import { validateConfig } from "./validate.ts";
import { SLICE_TOKENS, WORKER_NICE, type FromWorker, type ToWorker } from "./worker-protocol.ts";

interface Port {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker, transfer?: ArrayBuffer[]): void;
}
const port = globalThis as unknown as Port;

let held: { id: number; tape: Tape } | undefined;

// Below PID 1's event loop thread: on a busy node the kernel then runs the loop
// (API, reaping, health checks) first when it wakes, and the parse with what is left.
// Measured here (2 cores, load ~6): a spinning nice-0 worker delayed the main thread's 2 ms
// timer by up to 250 ms; at nice 19 the worst was 6-40 ms. 10: a busy node still parses.
try {
  setThreadNice(WORKER_NICE);
} catch {}

/**
 * The JS engine compiles this worker's hot code on its own JIT threads, shared
 * by the process and started at nice 0: on a cold worker they spent as much
 * CPU as the parse itself (measured: 320-380 ms JIT beside 380-440 ms of
 * parsing). Compilation is background work by nature (code runs in a lower
 * tier until it is done), so they go below the loop too.
 */
function niceJitThreads(): void {
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      if (readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() === "JITWorker") setNiceOf(Number(tid), WORKER_NICE);
    }
  } catch {}
}

port.onmessage = (e) => {
  const m = e.data;
  if (m.op === "validate") {
    held = undefined;
    niceJitThreads();
    try {
      const v = validateConfig(m.input);
      const tape = toTape({ config: v.config, warnings: v.warnings, documents: v.documents, redaction: v.redaction });
      held = { id: m.id, tape };
      port.postMessage({ op: "valid", id: m.id, text: v.text, slices: sliceCount(tape, SLICE_TOKENS) });
      niceJitThreads(); // any started during this parse
    } catch (err) {
      const { name, message } = err instanceof Error ? err : { name: "Error", message: String(err) };
      port.postMessage({ op: "invalid", id: m.id, name, message });
    }
    return;
  }
  if (!held || held.id !== m.id) {
    port.postMessage({ op: "invalid", id: m.id, name: "Error", message: `no result held for request ${m.id}` });
    return;
  }
  const slice = sliceOf(held.tape, m.index, SLICE_TOKENS);
  if (m.index + 1 >= sliceCount(held.tape, SLICE_TOKENS)) held = undefined;
  port.postMessage({ op: "slice", id: m.id, index: m.index, slice }, [slice.kinds.buffer]);
};
