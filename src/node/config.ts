// How a machine config is applied (Talos's ApplyConfiguration modes) and what
// the node answers.

export type ApplyMode = "no_reboot" | "reboot" | "try" | "auto";

export const APPLY_MODES: readonly ApplyMode[] = ["no_reboot", "reboot", "try", "auto"];

export interface ApplyResult {
  mode: ApplyMode;
  /** Human summary: what was applied live, what needs a reboot. */
  details: string;
  /** Keys that changed but only take effect after a reboot. */
  needsReboot: string[];
  /** One per key the config has that minos accepts but does not apply (Talos's reply field). */
  warnings: string[];
}
