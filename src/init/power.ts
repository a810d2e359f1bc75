// What stops the node: the machine API (poweroff/shutdown/reboot applets),
// signals to PID 1 and the power button. SIGTERM → power off, SIGINT
// (Ctrl-Alt-Del once reboot(CAD_OFF) is in effect) → reboot. SIGPWR cannot be
// handled: the JS engine (JavaScriptCore) uses SIGPWR itself to suspend threads
// for garbage collection, so Bun never dispatches it to JS (verified: SigCgt
// has it before any handler is installed, and a handler never runs); the
// powerfail daemons that send it are replaced here by the API and the power
// button, and SIGTERM does the same.
import type { PowerAction, ScheduledShutdown } from "../api/backend.ts";
import { FailedPreconditionError } from "../lib/errors.ts";
import { errText } from "./log.ts";
import type { Node } from "./node.ts";
import { powerSequence } from "./shutdown/sequence.ts";

const SEQUENCE: Record<PowerAction, "shutdown" | "reboot" | "halt"> = { poweroff: "shutdown", reboot: "reboot", halt: "halt" };

export class Power {
  private scheduled: { s: ScheduledShutdown; timer: ReturnType<typeof setTimeout> } | undefined;

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
    const delay = Math.max(0, s.at.getTime() - Date.now());
    const timer = setTimeout(() => {
      this.scheduled = undefined;
      try {
        this.request(s.action, `scheduled: ${s.message || "no message"}`);
      } catch (e) {
        this.node.log.error(`scheduled ${s.action}: ${errText(e)}`);
      }
    }, delay);
    this.scheduled = { s, timer };
    this.node.events.emit({ kind: "shutdown-scheduled", action: s.action, at: s.at, message: s.message });
    this.node.log.info(`${s.action} scheduled at ${s.at.toISOString()}${s.message ? `: ${s.message}` : ""}`);
  }

  cancel(): boolean {
    if (!this.scheduled) return false;
    clearTimeout(this.scheduled.timer);
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
