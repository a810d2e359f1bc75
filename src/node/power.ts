// Power actions, the one table that maps each to the sequence that carries it
// out and the reboot(2) command that ends it, and the names the wire and the
// command lines use for them. Everything that turns an action into something
// else reads this table; nothing spells the mapping again.

export type PowerAction = "poweroff" | "halt" | "reboot";

/** reboot(2) commands, by the names of src/sys/reboot.ts. */
export type RebootCommand = "POWER_OFF" | "HALT" | "RESTART";

/** The sequences that end the node (the boot and the emergency path are not power actions). */
export type PowerSequenceName = "shutdown" | "reboot" | "halt";

export interface PowerActionInfo {
  sequence: PowerSequenceName;
  command: RebootCommand;
  /** The minos API enum name (minos.machine.PowerAction). */
  wire: "POWEROFF" | "HALT" | "REBOOT";
  /** In sentences: "The system will power off". */
  verb: string;
}

export const POWER: Readonly<Record<PowerAction, PowerActionInfo>> = {
  poweroff: { sequence: "shutdown", command: "POWER_OFF", wire: "POWEROFF", verb: "power off" },
  halt: { sequence: "halt", command: "HALT", wire: "HALT", verb: "halt" },
  reboot: { sequence: "reboot", command: "RESTART", wire: "REBOOT", verb: "reboot" },
};

export const POWER_ACTIONS = Object.keys(POWER) as PowerAction[];

/** The action a wire enum name stands for; undefined for a name (or number) the table does not have. */
export function powerActionFromWire(wire: unknown): PowerAction | undefined {
  return POWER_ACTIONS.find((a) => POWER[a].wire === wire);
}

export interface ScheduledShutdown {
  action: PowerAction;
  at: Date;
  message: string;
}
