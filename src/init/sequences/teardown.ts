// What follows every sequence that ends the node, in one list: the same for
// shutdown, reboot, halt and the emergency path. init's main runs it, then
// calls reboot(2).
import type { NodeContext } from "../context.ts";
import { killAllTask, reaperReportTask, remountRootTask, syncTask, unmountTask, wipeTasks } from "../phases/teardown.ts";
import { SIG } from "../../sys/process.ts";
import type { NodeEnd, Phase } from "./sequencer.ts";

export function teardownPhases(ctx: NodeContext, end: NodeEnd): Phase[] {
  const wipe = wipeTasks(ctx);
  return [
    { name: "prepareWipe", tasks: [wipe.open] },
    { name: "killProcesses", tasks: [killAllTask(ctx, SIG.SIGTERM, end.termGraceMs), killAllTask(ctx, SIG.SIGKILL, end.killWaitMs), reaperReportTask(ctx)] },
    { name: "unmount", tasks: [unmountTask(ctx)] },
    // A Reset: STATE and EPHEMERAL are unmounted now, and nothing runs that could write them.
    { name: "wipe", tasks: [wipe.wipe] },
    { name: "remountRoot", tasks: [remountRootTask(ctx)] },
    { name: "sync", tasks: [syncTask()] },
  ];
}
