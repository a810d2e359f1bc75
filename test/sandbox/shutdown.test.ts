// shutdown end to end in a sandboxed node: immediate reboot, and a scheduled
// shutdown held by init, visible in Events, then cancelled. Needs root and
// `bun run build`. Safety: see test/helpers/poweroff-node.ts.
import { describe, expect, test } from "bun:test";
import { sandboxSuite, collect, withTimeout } from "../helpers/poweroff-node.ts";

const { boot } = sandboxSuite();

describe("shutdown in a sandboxed node", () => {
  test("shutdown -r now: the reboot sequence, init ends by SIGHUP", async () => {
    const node = await boot();
    const r = await node.run(["/sbin/shutdown", "-r", "now"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const exit = await withTimeout(node.sb.exited, 30_000, "node exit");
    expect(exit.initSignal).toBe("SIGHUP");
    expect(node.console()).toContain("sequence reboot: start");
  }, 60_000);

  test("shutdown +1 then shutdown -c: init held it, the node keeps running, Events shows both", async () => {
    const node = await boot();
    const c = node.client();
    const t0 = Date.now();

    const sched = await node.run(["/sbin/shutdown", "+1", "disk", "swap"]);
    expect(sched.code).toBe(0);
    // Held by init after the applet exited:
    const held = await c.scheduledShutdown();
    expect(held?.action).toBe("poweroff");
    expect(held?.message).toBe("disk swap");
    expect(Math.abs(held!.at.getTime() - (t0 + 60_000))).toBeLessThan(5_000);

    const cancel = await node.run(["/sbin/shutdown", "-c"]);
    expect(cancel.code).toBe(0);
    expect(await c.scheduledShutdown()).toBeUndefined();

    const events = await collect(c.events({ tail: -1 }), (seen) => seen.some((e) => e.type.endsWith("ShutdownCancelledEvent")), 10_000);
    const scheduled = events.filter((e) => e.type.endsWith("ShutdownScheduledEvent"));
    const cancelled = events.filter((e) => e.type.endsWith("ShutdownCancelledEvent"));
    expect(scheduled.length).toBe(1);
    expect(scheduled[0]!.payload).toMatchObject({ action: "POWEROFF", message: "disk swap" });
    expect(cancelled.length).toBe(1);

    // Still up: answering, and not ended (a wrong cancel would fire at t0+60 s; the timer is gone, see scheduledShutdown above).
    expect(await c.hostname()).toBeString();
    const ended = await Promise.race([node.sb.exited.then(() => true), Bun.sleep(1000).then(() => false)]);
    expect(ended).toBe(false);
    expect(node.console()).not.toContain("sequence shutdown: start");
  }, 60_000);
});
