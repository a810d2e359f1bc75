// The node's MachineStatus (Talos's MachineStatusEvent): its stage, and
// whether it is ready, with the conditions not met yet — services not up,
// time not synced. Emitted when the stage changes and when a condition does.
import type { MachineStage, UnmetCondition } from "../node/events.ts";
import type { NodeContext } from "./context.ts";

export function unmetConditions(ctx: NodeContext): UnmetCondition[] {
  const unmet: UnmetCondition[] = [];
  const reg = ctx.services.peek();
  if (!reg) unmet.push({ name: "services", reason: "not started yet" });
  else {
    const down = reg.all().filter((s) => !(s.up || s.state === "Skipped" || s.state === "Finished"));
    if (down.length) unmet.push({ name: "services", reason: `not up: ${down.map((s) => `${s.id} (${s.state})`).join(", ")}` });
  }
  const time = ctx.time.peek()?.sync.status();
  if (time?.enabled && !time.synced) unmet.push({ name: "time", reason: "not synced" });
  return unmet;
}

let lastStage: MachineStage | undefined;

export function emitMachineStatus(ctx: NodeContext, stage: MachineStage = lastStage ?? "booting", actorId?: string): void {
  lastStage = stage;
  const unmet = unmetConditions(ctx);
  const ready = stage === "running" && unmet.length === 0;
  ctx.events.emit({ kind: "machine-status", stage, ready, unmet, ...(actorId ? { actorId } : {}) });
}
