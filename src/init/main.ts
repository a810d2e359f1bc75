// PID 1. Order matters and is short: crash guards, the reaper (before anything
// is spawned), the stop signals, then the boot sequence; a failed boot takes the
// emergency path. runInit never resolves: if PID 1 exits, the kernel panics.
// handle() is the one place that ends the node — teardown, then reboot(2) —
// for shutdown, reboot, halt and the emergency path alike (as Talos machined's
// main.go does).
import type { Io } from "../lib/io.ts";
import { sleep } from "../lib/timers.ts";
import type { PowerAction } from "../node/power.ts";
import { reboot } from "../sys/reboot.ts";
import { NodeContext } from "./context.ts";
import { faultsFrom } from "./faults.ts";
import { errText } from "./mechanisms/log.ts";
import { bootSequence } from "./sequences/boot.ts";
import { emergencySequence } from "./sequences/emergency.ts";
import { powerSequence } from "./sequences/power.ts";
import { SequenceAborted, type NodeEnd, type Sequence } from "./sequences/sequencer.ts";
import { teardownPhases } from "./sequences/teardown.ts";
import { emitMachineStatus } from "./status.ts";
import type { MachineStage } from "../node/events.ts";

/** Talos's container mode marker, set by the sandbox launcher. */
export function isSandbox(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.container === "minos";
}

export async function runInit(io: Io): Promise<never> {
  const sandbox = isSandbox(io.env);
  const ctx: NodeContext = new NodeContext({
    sandbox,
    env: io.env,
    faults: faultsFrom(sandbox, io.env),
    runPowerAction: (action: PowerAction, actorId?: string) => runToEnd(ctx, powerSequence(ctx, action), actorId),
  });
  // Uncaught exceptions and rejections are logged; they never end PID 1.
  process.on("uncaughtException", (e) => ctx.log.error(`uncaught exception: ${errText(e)}`));
  process.on("unhandledRejection", (e) => ctx.log.error(`unhandled rejection: ${errText(e)}`));
  ctx.reaper.install();
  ctx.power.installSignalHandlers();
  ctx.log.info(`minos init ${sandbox ? "in the sandbox (container=minos)" : "on a kernel boot"}, pid ${process.pid}, bun ${Bun.version}`);
  emitMachineStatus(ctx, "booting");
  try {
    await ctx.sequencer.run(bootSequence(ctx));
  } catch (e) {
    // A boot that ended before /dev/kmsg was attached still shows its lines.
    ctx.log.releaseHeld();
    // A shutdown or reboot took over: not an error, the power sequence carries on.
    if (!(e instanceof SequenceAborted)) {
      await runToEnd(ctx, emergencySequence(ctx, e)).catch((err) => ctx.log.error(`emergency sequence: ${errText(err)}`));
    }
  }
  return new Promise<never>(() => {}); // the reaper's timer keeps the event loop alive
}

const STAGE: Record<Sequence["name"], MachineStage> = {
  boot: "booting",
  shutdown: "shutting_down",
  halt: "shutting_down",
  reboot: "rebooting",
  emergency: "rebooting",
};

/** How long the end waits for the console to take init's last lines. */
const CONSOLE_DRAIN_MS = 2000;

/** Runs a sequence that ends the node, then ends it. */
async function runToEnd(ctx: NodeContext, seq: Sequence, actorId?: string): Promise<void> {
  ctx.sequencer.assertCanRun(seq.name);
  emitMachineStatus(ctx, STAGE[seq.name], actorId);
  const end = await ctx.sequencer.run(seq, actorId);
  if (end) await handle(ctx, seq.name, end);
}

/** Teardown (kill, unmount, remount read-only, sync), the hold the end asks for, then reboot(2). */
export async function handle(ctx: NodeContext, of: Sequence["name"], end: NodeEnd): Promise<void> {
  await ctx.sequencer.teardown(of, teardownPhases(ctx, end));
  if (end.holdMs === "forever") {
    ctx.log.error("panic=0 on the kernel cmdline: waiting forever");
    return new Promise<never>(() => {});
  }
  if (end.holdMs) {
    ctx.log.error(`rebooting in ${end.holdMs / 1000} s`);
    await sleep(end.holdMs);
  }
  ctx.log.info(`  reboot(${end.command})${ctx.sandbox ? ": the kernel ends this PID namespace's init" : ""}`);
  // The console is written off the event loop: let it take the last lines (bounded: a stuck console must not hold the power-off).
  await ctx.log.drainConsole(CONSOLE_DRAIN_MS);
  reboot(end.command);
}
