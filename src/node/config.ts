// How a machine config is applied (Talos's ApplyConfiguration modes) and what
// the node answers.

export type ApplyMode = "no_reboot" | "reboot" | "try" | "auto" | "staged";

export const APPLY_MODES: readonly ApplyMode[] = ["no_reboot", "reboot", "try", "auto", "staged"];

export interface ApplyResult {
  mode: ApplyMode;
  /** Human summary: what was applied live, what needs a reboot. */
  details: string;
  /** Keys that changed but only take effect after a reboot. */
  needsReboot: string[];
  /** One per key the config has that minos accepts but does not apply (Talos's reply field). */
  warnings: string[];
}

/**
 * The longest `try` period: 24 h. A try proves a config keeps the node
 * reachable before it is stored (Talos's default is 1 min); a day covers
 * "leave it overnight and see", while a longer one is a forgotten revert that
 * fires when nobody expects it. Longer timeouts are refused with
 * INVALID_ARGUMENT rather than clamped, so the reply's "until" is always true.
 */
export const MAX_TRY_MS = 24 * 60 * 60 * 1000;
