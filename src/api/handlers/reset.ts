// machine.MachineService/Reset (Talos's): which system partitions to wipe and
// how to end. minos has only the system disk: user disks are refused.
import { InvalidArgumentError } from "../../lib/errors.ts";
import type { MachineBackend } from "../../init/backend/contract.ts";
import { WIPEABLE_LABELS, type WipeableLabel } from "../../node/storage.ts";
import type { machine } from "../gen/types.ts";
import { type CallContext, meta } from "../handler.ts";

export function resetHandler(backend: MachineBackend) {
  return async (req: machine.ResetRequest, ctx: CallContext) => {
    if (req.mode === "USER_DISKS" || req.user_disks_to_wipe.length) throw new InvalidArgumentError("Reset: minos wipes only its system disk (no user disks)");
    let labels: WipeableLabel[] = [...WIPEABLE_LABELS];
    if (req.system_partitions_to_wipe.length) {
      labels = [];
      for (const p of req.system_partitions_to_wipe) {
        if (!(WIPEABLE_LABELS as readonly string[]).includes(p.label))
          throw new InvalidArgumentError(`Reset: system partition "${p.label}" cannot be wiped (only ${WIPEABLE_LABELS.join(", ")})`);
        if (p.wipe) labels.push(p.label as WipeableLabel);
      }
    }
    backend.reset({ graceful: req.graceful, reboot: req.reboot, labels });
    return { messages: [{ metadata: meta(ctx), actor_id: "" }] };
  };
}
