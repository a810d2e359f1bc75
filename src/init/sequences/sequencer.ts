// The sequencer (Talos machined's v1alpha1 sequencer): a sequence is a list of
// named phases, a phase a list of named tasks run in order. Every phase and
// task is timed, logged and emitted as an event. One sequence runs at a time: a
// second request fails with "sequence X is running", except that shutdown and
// reboot take over a running boot (the boot is aborted at its next task
// boundary, and its long waits watch the abort signal). A sequence that ends
// the node (shutdown, reboot, halt, emergency) says how in `end`; once its
// phases ran, nothing else may start: init's main tears the node down.
import type { SequenceName } from "../../node/events.ts";
import type { RebootCommand } from "../../node/power.ts";
import { FailedPreconditionError } from "../../lib/errors.ts";
import type { EventBus } from "../events.ts";
import { errText, type NodeLog } from "../mechanisms/log.ts";

export type { SequenceName };

/** What a task may return: nothing (done) or a reason it was skipped. */
export type TaskResult = void | { skipped: string };
export const skipped = (reason: string): TaskResult => ({ skipped: reason });

export interface Task {
  name: string;
  run(signal: AbortSignal): TaskResult | Promise<TaskResult>;
  /**
   * A failure fails this task only (logged, a task event with the error), and
   * the sequence carries on: for steps whose failure leaves the node usable
   * (machine files, static network). Without it a boot's failed task is fatal.
   */
  nonFatal?: true;
}

export interface Phase {
  name: string;
  tasks: Task[];
}

/** How a sequence that ends the node ends it: init's main (handle) carries it out. */
export interface NodeEnd {
  command: RebootCommand;
  /** How long remaining processes get after SIGTERM, and after SIGKILL. */
  termGraceMs: number;
  killWaitMs: number;
  /** Wait this long before reboot(2) (the emergency path, so a person can read the cause); "forever" for panic=0. */
  holdMs?: number | "forever";
}

export interface Sequence {
  name: SequenceName;
  phases: Phase[];
  /** A failed task: stop the sequence (boot) or log it and carry on (shutdown must finish). */
  onTaskError: "abort" | "continue";
  /** Set for the sequences that end the node. */
  end?: NodeEnd;
}

export class SequenceAborted extends Error {
  override name = "SequenceAborted";
}

const TAKEOVER: Record<SequenceName, SequenceName[]> = {
  boot: [],
  shutdown: ["boot"],
  reboot: ["boot"],
  halt: ["boot"],
  // The emergency path takes over anything: it exists because something went badly wrong.
  emergency: ["boot", "shutdown", "reboot", "halt"],
};

interface Running {
  name: SequenceName;
  abort: AbortController;
  done: Promise<void>;
}

export class Sequencer {
  private current: Running | undefined;
  /** The sequence that is ending the node, from its start on: the node never comes back from it. */
  private ending: SequenceName | undefined;

  constructor(
    private readonly log: NodeLog,
    private readonly events: EventBus,
  ) {}

  get running(): SequenceName | undefined {
    return this.current?.name ?? this.ending;
  }

  /** True once a sequence that ends the node has started: services may no longer be started. */
  get goingDown(): boolean {
    return this.ending !== undefined;
  }

  /** Throws FailedPreconditionError (synchronously) when `name` may not start now. */
  assertCanRun(name: SequenceName): void {
    const cur = this.current?.name ?? this.ending;
    if (cur && !(this.current && TAKEOVER[name].includes(cur))) throw new FailedPreconditionError(`sequence ${cur} is running`);
  }

  /**
   * Runs a sequence's phases. Resolves with its `end` (undefined for the boot)
   * when they finished, rejects with the failing task's error (onTaskError
   * "abort") or SequenceAborted.
   */
  async run(seq: Sequence, actorId?: string): Promise<NodeEnd | undefined> {
    this.assertCanRun(seq.name);
    const prev = this.current;
    const abort = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.current = { name: seq.name, abort, done };
    if (seq.end) this.ending = seq.name;
    try {
      if (prev) {
        this.log.info(`sequence ${seq.name}: taking over from ${prev.name}`);
        prev.abort.abort();
        await prev.done;
      }
      await this.execute(seq, abort.signal, actorId ? { actorId } : {});
      return seq.end;
    } finally {
      if (this.current?.done === done) this.current = undefined;
      finish();
    }
  }

  /** The teardown after a sequence that ends the node: its phases, logged like any, every task run whatever fails. */
  async teardown(of: SequenceName, phases: Phase[]): Promise<void> {
    const signal = new AbortController().signal; // nothing takes over a teardown
    for (const phase of phases) await this.runPhase({ name: of, phases, onTaskError: "continue" }, phase, signal).catch(() => {});
  }

  /** `actor`: the API call that started the sequence, on every event it emits (Talos's actor id). */
  private async execute(seq: Sequence, signal: AbortSignal, actor: { actorId?: string }): Promise<void> {
    const t0 = performance.now();
    this.log.info(`sequence ${seq.name}: start`);
    this.events.emit({ kind: "sequence", sequence: seq.name, action: "start", ...actor });
    let error: unknown;
    try {
      for (const phase of seq.phases) {
        if (signal.aborted) throw new SequenceAborted(`sequence ${seq.name} aborted before phase ${phase.name}`);
        await this.runPhase(seq, phase, signal, actor);
      }
    } catch (e) {
      error = e;
    }
    const ms = Math.round(performance.now() - t0);
    this.events.emit({ kind: "sequence", sequence: seq.name, action: "stop", ...(error ? { error: errText(error) } : {}), ...actor });
    if (error) {
      this.log.warn(`sequence ${seq.name}: ${error instanceof SequenceAborted ? "aborted" : "failed"} after ${ms} ms: ${errText(error)}`);
      throw error;
    }
    this.log.info(`sequence ${seq.name}: done in ${ms} ms`);
  }

  private async runPhase(seq: Sequence, phase: Phase, signal: AbortSignal, actor: { actorId?: string } = {}): Promise<void> {
    const t0 = performance.now();
    this.events.emit({ kind: "phase", phase: phase.name, action: "start", ...actor });
    let phaseError: unknown;
    for (const task of phase.tasks) {
      if (signal.aborted) {
        phaseError = new SequenceAborted(`sequence ${seq.name} aborted in phase ${phase.name}`);
        break;
      }
      const t1 = performance.now();
      this.events.emit({ kind: "task", task: task.name, action: "start", ...actor });
      try {
        const r = await task.run(signal);
        const ms = (performance.now() - t1).toFixed(1);
        if (r && "skipped" in r) this.log.info(`  ${phase.name}/${task.name}: skipped (${r.skipped})`);
        else this.log.info(`  ${phase.name}/${task.name}: ok in ${ms} ms`);
        this.events.emit({ kind: "task", task: task.name, action: "stop", ...actor });
      } catch (e) {
        this.events.emit({ kind: "task", task: task.name, action: "stop", error: errText(e), ...actor });
        this.log.error(`  ${phase.name}/${task.name}: failed: ${errText(e)}`);
        if ((seq.onTaskError === "abort" && !task.nonFatal) || e instanceof SequenceAborted) {
          phaseError = e;
          break;
        }
      }
    }
    const ms = Math.round(performance.now() - t0);
    this.events.emit({ kind: "phase", phase: phase.name, action: "stop", ...(phaseError ? { error: errText(phaseError) } : {}), ...actor });
    this.log.info(`phase ${phase.name}: ${phaseError ? "failed" : "done"} in ${ms} ms`);
    if (phaseError) throw phaseError;
  }
}
