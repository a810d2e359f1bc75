// PID 1. Order matters and is short: crash guards, the reaper (before anything
// is spawned), the stop signals, then the boot sequence; a failed boot takes the
// emergency path. This function never resolves: if PID 1 exits, the kernel panics.
import type { Io } from "../lib/io.ts";
import { emergency } from "./sequences/emergency.ts";
import { faultsFrom } from "./faults.ts";
import { errText } from "./mechanisms/log.ts";
import { Node } from "./context.ts";
import { SequenceAborted } from "./sequences/sequencer.ts";
import { bootSequence } from "./sequences/boot.ts";

/** Talos's container mode marker, set by the sandbox launcher. */
export function isSandbox(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.container === "minos";
}

export async function runInit(io: Io): Promise<never> {
  const sandbox = isSandbox(io.env);
  const node = new Node(sandbox, io.env, faultsFrom(sandbox, io.env));
  // Uncaught exceptions and rejections are logged; they never end PID 1.
  process.on("uncaughtException", (e) => node.log.error(`uncaught exception: ${errText(e)}`));
  process.on("unhandledRejection", (e) => node.log.error(`unhandled rejection: ${errText(e)}`));
  node.reaper.install();
  node.power.installSignalHandlers();
  node.log.info(`minos init ${sandbox ? "in the sandbox (container=minos)" : "on a kernel boot"}, pid ${process.pid}, bun ${Bun.version}`);
  try {
    await node.sequencer.run(bootSequence(node));
  } catch (e) {
    // A boot that ended before /dev/kmsg was attached still shows its lines.
    node.log.releaseHeld();
    // A shutdown or reboot took over: not an error, the power sequence carries on.
    if (!(e instanceof SequenceAborted)) await emergency(node, e);
  }
  return new Promise<never>(() => {}); // the reaper's timer keeps the event loop alive
}
