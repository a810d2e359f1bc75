// The shutdown, reboot and halt sequences: stop services in reverse dependency
// order, close the API; then init's main tears the node down (teardown.ts) and
// calls reboot(2) with the command the action's row of POWER names. In a PID
// namespace reboot(2) ends init with SIGINT (power off, halt) or SIGHUP
// (restart): the sandbox's exit.
import { POWER, type PowerAction } from "../../node/power.ts";
import type { NodeContext } from "../context.ts";
import { leaveEtcdTask } from "../phases/etcd-leave.ts";
import { releaseLeasesTask, stopApiTask, stopServicesTask } from "../phases/stop.ts";
import type { Sequence } from "./sequencer.ts";

/** How long every remaining process gets after SIGTERM, and after SIGKILL. */
export const TERM_GRACE_MS = 5000;
export const KILL_WAIT_MS = 5000;

export function powerSequence(ctx: NodeContext, action: PowerAction): Sequence {
  const { sequence, command } = POWER[action];
  return {
    name: sequence,
    onTaskError: "continue",
    phases: [
      // A reboot keeps the membership (the node comes back); a Reset leaves when graceful, whatever follows it.
      ...((ctx.resetLeavesEtcd ?? action !== "reboot") ? [{ name: "leaveEtcd", tasks: [leaveEtcdTask(ctx)] }] : []),
      { name: "stopServices", tasks: [stopServicesTask(ctx)] },
      { name: "stopApi", tasks: [stopApiTask(ctx)] },
      // After the API: a client watching the shutdown keeps its connection to the leased address until here.
      { name: "stopNetwork", tasks: [releaseLeasesTask(ctx)] },
    ],
    end: { command, termGraceMs: TERM_GRACE_MS, killWaitMs: KILL_WAIT_MS },
  };
}
