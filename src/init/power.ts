// What stops the node: the machine API (poweroff/shutdown/reboot applets),
// signals to PID 1 and the power button. SIGTERM → power off, SIGINT
// (Ctrl-Alt-Del once reboot(CAD_OFF) is in effect) → reboot. SIGPWR cannot be
// handled: the JS engine (JavaScriptCore) uses SIGPWR itself to suspend threads
// for garbage collection, so Bun never dispatches it to JS (verified: SigCgt
// has it before any handler is installed, and a handler never runs); the
// powerfail daemons that send it are replaced here by the API and the power
// button, and SIGTERM does the same.
import type { PowerAction, ScheduledShutdown } from "./backend/contract.ts";
import { FailedPreconditionError } from "../lib/errors.ts";
import { errText } from "./mechanisms/log.ts";
import type { Node } from "./context.ts";
import { powerSequence } from "./phases/stop.ts";

const SEQUENCE: Record<PowerAction, "shutdown" | "reboot" | "halt"> = { poweroff: "shutdown", reboot: "reboot", halt: "halt" };

/** The longest delay a timer takes: beyond it Bun (as Node) fires at once, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Alarm {
  cancel(): void;
}

/**
 * Calls `fire` once at the wall-clock time `at` (ms since the epoch), never
 * synchronously. A far time (`shutdown +40000` is ~28 days) is reached in steps
 * of at most MAX_TIMER_MS, each re-reading the clock, so an overflowing delay can
 * never turn into "now".
 */
export function alarmAt(at: number, fire: () => void): Alarm {
  let t: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    t = setTimeout(step, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
  };
  const step = () => {
    if (Date.now() >= at) fire();
    else arm();
  };
  arm();
  return { cancel: () => clearTimeout(t) };
}

export class Power {
  private scheduled: { s: ScheduledShutdown; alarm: Alarm } | undefined;

  constructor(private readonly node: Node) {}

  /** Starts the sequence now; throws FailedPreconditionError synchronously when another one may not be taken over. */
  request(action: PowerAction, why: string): void {
    const name = SEQUENCE[action];
    this.node.sequencer.assertCanRun(name);
    this.cancel();
    this.node.log.info(`${action} requested: ${why}`);
    this.node.sequencer.run(powerSequence(this.node, name)).catch((e) => {
      // A power sequence runs to the end (tasks "continue"); reaching here means reboot(2) itself failed.
      this.node.log.error(`${name} sequence: ${errText(e)}`);
    });
  }

  schedule(s: ScheduledShutdown): void {
    this.node.sequencer.assertCanRun(SEQUENCE[s.action]);
    this.cancel();
    const alarm = alarmAt(s.at.getTime(), () => {
      this.scheduled = undefined;
      try {
        this.request(s.action, `scheduled: ${s.message || "no message"}`);
      } catch (e) {
        this.node.log.error(`scheduled ${s.action}: ${errText(e)}`);
      }
    });
    this.scheduled = { s, alarm };
    this.node.events.emit({ kind: "shutdown-scheduled", action: s.action, at: s.at, message: s.message });
    this.node.log.info(`${s.action} scheduled at ${s.at.toISOString()}${s.message ? `: ${s.message}` : ""}`);
  }

  cancel(): boolean {
    if (!this.scheduled) return false;
    this.scheduled.alarm.cancel();
    this.scheduled = undefined;
    this.node.events.emit({ kind: "shutdown-cancelled", message: "scheduled shutdown cancelled" });
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
          this.node.log.warn(`${sig} ignored: ${e instanceof FailedPreconditionError ? e.message : errText(e)}`);
        }
      });
    on("SIGTERM", "poweroff");
    on("SIGINT", "reboot");
  }
}
