// The four things poweroff/shutdown need from init, as a small interface. The
// applets and their tests depend on this, not on the gRPC client: tests pass a
// fake, and machine.ts adapts the real client (loaded only when a request is sent).
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";

export interface PowerClient {
  /** Start the shutdown/reboot sequence now. */
  power(action: PowerAction): Promise<void>;
  /** Ask init to hold a shutdown for later (it outlives this process). */
  schedule(s: ScheduledShutdown): Promise<void>;
  /** Cancel a held shutdown; false when none was scheduled. */
  cancel(): Promise<boolean>;
  close(): void;
}

export type Connect = (socketPath: string) => Promise<PowerClient>;

/**
 * init could not be reached at all (no socket, refused, no answer in time):
 * the case where `poweroff -f` is the way out. Refusals by init (another
 * sequence running, ...) are ordinary Errors.
 */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}
