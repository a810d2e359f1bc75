// What stops the node: the machine API (poweroff/shutdown/reboot applets),
// signals to PID 1 and the power button. SIGTERM → power off, SIGINT
// (Ctrl-Alt-Del once reboot(CAD_OFF) is in effect) → reboot. SIGPWR cannot be
// handled: the JS engine (JavaScriptCore) uses SIGPWR itself to suspend threads
// for garbage collection, so Bun never dispatches it to JS (verified: SigCgt
// has it before any handler is installed, and a handler never runs); the
// powerfail daemons that send it are replaced here by the API and the power
// button, and SIGTERM does the same.
import { POWER, type PowerAction, type ScheduledShutdown } from "../node/power.ts";
import { FailedPreconditionError } from "../lib/errors.ts";
import { alarmAt, type Alarm } from "../lib/timers.ts";
import type { NewEvent, SequenceName } from "../node/events.ts";
import { errText } from "./mechanisms/log.ts";

/** What Power uses of the node, and no more (its tests pass plain objects). */
export interface PowerDeps {
  sequencer: { assertCanRun(name: SequenceName): void };
  events: { emit(e: NewEvent): unknown };
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Runs the action's sequence and ends the node (init's main). */
  run(action: PowerAction, actorId?: string): Promise<void>;
}

export class Power {
  private scheduled: { s: ScheduledShutdown; alarm: Alarm } | undefined;

  constructor(private readonly deps: PowerDeps) {}

  /** Starts the sequence now; throws FailedPreconditionError synchronously when another one may not be taken over. */
  request(action: PowerAction, why: string, actorId?: string): void {
    const { sequence } = POWER[action];
    this.deps.sequencer.assertCanRun(sequence);
    this.cancel();
    this.deps.log.info(`${action} requested: ${why}`);
    this.deps.run(action, actorId).catch((e) => {
      // A power sequence runs to the end (tasks "continue"); reaching here means reboot(2) itself failed.
      this.deps.log.error(`${sequence} sequence: ${errText(e)}`);
    });
  }

  schedule(s: ScheduledShutdown): void {
    this.deps.sequencer.assertCanRun(POWER[s.action].sequence);
    this.cancel();
    const alarm = alarmAt(s.at.getTime(), () => {
      this.scheduled = undefined;
      try {
        this.request(s.action, `scheduled: ${s.message || "no message"}`);
      } catch (e) {
        this.deps.log.error(`scheduled ${s.action}: ${errText(e)}`);
      }
    });
    this.scheduled = { s, alarm };
    this.deps.events.emit({ kind: "shutdown-scheduled", action: s.action, at: s.at, message: s.message });
    this.deps.log.info(`${s.action} scheduled at ${s.at.toISOString()}${s.message ? `: ${s.message}` : ""}`);
  }

  cancel(): boolean {
    if (!this.scheduled) return false;
    this.scheduled.alarm.cancel();
    this.scheduled = undefined;
    this.deps.events.emit({ kind: "shutdown-cancelled", message: "scheduled shutdown cancelled" });
    return true;
  }

  current(): ScheduledShutdown | undefined {
    return this.scheduled?.s;
  }

  installSignalHandlers(): void {
    const on = (sig: "SIGTERM" | "SIGINT", action: PowerAction) =>
      process.on(sig, () => {
        try {
          this.request(action, sig);
        } catch (e) {
          this.deps.log.warn(`${sig} ignored: ${e instanceof FailedPreconditionError ? e.message : errText(e)}`);
        }
      });
    on("SIGTERM", "poweroff");
    on("SIGINT", "reboot");
  }
}
