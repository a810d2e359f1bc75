// Which power sequences leave the etcd cluster first: a power-off or halt
// does, a plain reboot does not (the node comes back as the member it was), a
// graceful Reset does whatever follows it (Talos's reset sequence), and a
// Reset with graceful=false never does.
import { describe, expect, test } from "bun:test";
import type { NodeContext } from "../../../src/init/context.ts";
import { powerSequence } from "../../../src/init/sequences/power.ts";
import type { PowerAction } from "../../../src/node/power.ts";

function phases(action: PowerAction, resetLeavesEtcd?: boolean): string[] {
  // powerSequence only reads the reset flag while building the list; the tasks use the rest of the context when run.
  const ctx = { resetLeavesEtcd } as unknown as NodeContext;
  return powerSequence(ctx, action).phases.map((p) => p.name);
}

describe("leaving etcd in the power sequences", () => {
  test("power-off and halt leave first; a reboot keeps the membership", () => {
    expect(phases("poweroff")[0]).toBe("leaveEtcd");
    expect(phases("halt")[0]).toBe("leaveEtcd");
    expect(phases("reboot")).not.toContain("leaveEtcd");
  });
  test("a graceful Reset leaves first, also when it reboots; graceful=false never leaves", () => {
    expect(phases("reboot", true)[0]).toBe("leaveEtcd");
    expect(phases("poweroff", true)[0]).toBe("leaveEtcd");
    expect(phases("reboot", false)).not.toContain("leaveEtcd");
    expect(phases("poweroff", false)).not.toContain("leaveEtcd");
  });
});
