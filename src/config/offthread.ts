// Config validation off the caller's event loop: PID 1 must answer the API,
// reap and run health checks while a 1 MiB config is parsed (seconds of CPU on
// a loaded node). One Bun Worker runs validate.ts; it is started on the first
// request and terminated after `idleMs` without one, so PID 1 carries no second
// JS heap while nothing is validated. Requests run one at a time. A request
// that runs over `timeoutMs`, or whose caller aborts, terminates the worker
// (the next request starts a fresh one): the caller gets an error and nothing
// is left running on its behalf.
//
// The result comes back as a tape pulled slice by slice (transfer.ts) and is
// rebuilt here with a turn of the event loop between slices.
import { InvalidArgumentError, ResourceExhaustedError } from "../lib/errors.ts";
import type { KindDocument } from "./kinds.ts";
import type { Redaction } from "./redact.ts";
import { TapeDecoder } from "./transfer.ts";
import type { V1Alpha1Config } from "./v1alpha1.ts";
import type { ValidatedConfig } from "./validate.ts";
import { WORKER_NICE, type FromWorker, type ToWorker } from "./worker-protocol.ts";
import { withThreadNice } from "../sys/sched.ts";

/** The worker's entry as build/compile.ts embeds it (an entrypoint's path below src/, the entrypoints' common root). */
export const WORKER_ENTRY = "config/worker.ts";

/** Where the worker's code is: inside the compiled binary, or beside this file when run from source. */
export function workerEntry(): string | URL {
  // Bun's compiled executables serve their embedded modules from /$bunfs/root/.
  if (import.meta.url.startsWith("file:///$bunfs/")) return `/$bunfs/root/${WORKER_ENTRY}`;
  return new URL("./worker.ts", import.meta.url);
}

export interface ValidatorOptions {
  /** Terminate the worker after this long without a request (default 10 s). */
  idleMs?: number;
  /** A request that takes longer is stopped and fails (default 10 s). */
  timeoutMs?: number;
  /** The worker module (tests). */
  entry?: string | URL;
}

/** The caller went away (its signal aborted) before the validation ended; the worker was stopped. */
export class ValidationAbortedError extends Error {
  override name = "ValidationAbortedError";
}

export interface ValidatorStats {
  /** Workers started so far. */
  started: number;
  /** Whether a worker is running now. */
  resident: boolean;
}

export class ConfigValidator {
  private readonly idleMs: number;
  private readonly timeoutMs: number;
  private readonly entry: string | URL | undefined;
  private worker: Worker | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private nextId = 0;
  private started = 0;
  /** The reply the running request waits for. */
  private waiting: { resolve(m: FromWorker): void; reject(e: Error): void } | undefined;

  constructor(opts: ValidatorOptions = {}) {
    this.idleMs = opts.idleMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.entry = opts.entry;
  }

  stats(): ValidatorStats {
    return { started: this.started, resident: this.worker !== undefined };
  }

  /**
   * Validates `input` (bytes or text) in the worker. Rejects with
   * InvalidArgumentError (the parser's message), ResourceExhaustedError (over
   * the time bound), ValidationAbortedError (`signal` aborted), or Error (the
   * worker failed).
   */
  validate(input: Uint8Array | string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ValidatedConfig> {
    const run = this.tail.then(
      () => this.run(input, opts.signal, opts.timeoutMs ?? this.timeoutMs),
      () => this.run(input, opts.signal, opts.timeoutMs ?? this.timeoutMs),
    );
    this.tail = run.catch(() => {});
    return run;
  }

  /** Terminates the worker now (a later request starts another). */
  close(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.stop(new Error("config validator closed"));
  }

  private async run(input: Uint8Array | string, signal: AbortSignal | undefined, timeoutMs: number): Promise<ValidatedConfig> {
    if (signal?.aborted) throw new ValidationAbortedError("config: the caller went away before validation started");
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    let ended: Error | undefined;
    const end = (e: Error) => {
      if (ended) return;
      ended = e;
      this.stop(e);
    };
    const timer = setTimeout(
      () => end(new ResourceExhaustedError(`config: validation took over ${timeoutMs / 1000} s and was stopped; nothing changed`)),
      timeoutMs,
    );
    const onAbort = () => end(new ValidationAbortedError("config: the caller went away during validation; the worker was stopped"));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const id = ++this.nextId;
      const first = await this.ask({ op: "validate", id, input });
      if (first.op === "invalid") throw rebuildError(first.name, first.message);
      if (first.op !== "valid" || first.id !== id) throw new Error("config worker: an unexpected reply");
      const decoder = new TapeDecoder();
      for (let index = 0; index < first.slices; index++) {
        const m = await this.ask({ op: "slice", id, index });
        if (m.op !== "slice" || m.id !== id || m.index !== index)
          throw m.op === "invalid" ? rebuildError(m.name, m.message) : new Error("config worker: a slice out of order");
        decoder.push(m.slice);
        // One slice per turn: let the loop serve whatever arrived meanwhile.
        await new Promise((r) => setImmediate(r));
        if (ended) throw ended;
      }
      const value = decoder.value() as { config: V1Alpha1Config; warnings: string[]; documents: KindDocument[]; redaction: Redaction };
      return { config: value.config, warnings: value.warnings, documents: value.documents, redaction: value.redaction, text: first.text };
    } catch (e) {
      throw ended ?? e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (this.worker) this.idleTimer = setTimeout(() => this.stop(new Error("idle")), this.idleMs);
    }
  }

  /** Sends one message and waits for the worker's reply (or its failure). */
  private ask(m: ToWorker): Promise<FromWorker> {
    const w = this.ensureWorker();
    return new Promise<FromWorker>((resolve, reject) => {
      this.waiting = { resolve, reject };
      w.postMessage(m);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // Created below the loop's priority: the thread (and the engine threads it starts) inherit it while the
    // engine boots and loads the module, before the worker's own code could lower it (a cold start at nice 0
    // kept PID 1 waiting for a CPU 250-500 ms on a busy host).
    const w = withThreadNice(WORKER_NICE, () => new Worker(this.entry ?? workerEntry()));
    this.started++;
    // The worker must not keep a process alive (minosctl, tests); PID 1 never exits anyway.
    w.unref();
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve(e.data);
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.stop(new Error(`config worker failed: ${e.message}`));
    };
    w.addEventListener("close", () => {
      if (this.worker === w) this.stop(new Error("config worker exited"));
    });
    this.worker = w;
    return w;
  }

  /** Terminates the worker; whoever waits for it gets `why`. */
  private stop(why: Error): void {
    const w = this.worker;
    this.worker = undefined;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(why);
    w?.terminate();
  }
}

function rebuildError(name: string, message: string): Error {
  if (name === "InvalidArgumentError") return new InvalidArgumentError(message);
  return new Error(`config validation failed: ${message}`);
}
