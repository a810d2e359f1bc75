// Talos's events that a client waits on, on a booted sandbox node:
// MachineStatus (booting, then running and ready once the services are up),
// ConfigLoadError for a cmdline config passed over at boot,
// ConfigValidationError for a refused ApplyConfiguration, and the actor id: a
// Reboot's reply names it and Events with_actor_id replays exactly the
// sequence that call started.
import { describe, expect, test } from "bun:test";
import { connect, type NodeEventMsg } from "../../src/api/client.ts";
import { INVALID, VALID } from "../helpers/configs.ts";
import { sh } from "../helpers/busybox.ts";
import { withNode } from "../helpers/node.ts";

// A service that takes 3 s to stop keeps the reboot in its stopServices phase (and so the API up)
// while the test asks for the reboot's events by its actor id.
const SLOW_STOP = `${VALID}minos:
  services:
    - id: slowstop
      command: ${JSON.stringify(sh("trap 'sleep 3; exit 0' TERM; while true; do sleep 0.05; done"))}
      stopGraceMs: 10000
`;

async function take(s: AsyncIterable<NodeEventMsg>, until: (e: NodeEventMsg) => boolean, ms = 20_000): Promise<NodeEventMsg[]> {
  const got: NodeEventMsg[] = [];
  const deadline = Bun.sleep(ms).then(() => "timeout" as const);
  const it = s[Symbol.asyncIterator]();
  for (;;) {
    const r = await Promise.race([it.next(), deadline]);
    if (r === "timeout") throw new Error(`no matching event in ${ms} ms; got ${got.map((e) => e.type).join(", ")}`);
    if (r.done) return got;
    got.push(r.value);
    if (until(r.value)) return got;
  }
}

describe("events", () => {
  test("MachineStatus, ConfigLoadError, ConfigValidationError and actor ids", async () => {
    await withNode(
      { config: SLOW_STOP, env: { MINOS_CMDLINE: "minos.config=/test/bad.yaml" }, files: [{ path: "/test/bad.yaml", content: INVALID }] },
      async (sb) => {
        await sb.waitForLine(/all services healthy/, 60_000);
        const c = connect({ endpoint: `unix:${sb.socketPath}` });
        try {
          const history = c.events({ tail: -1 });
          const past = await take(history, (e) => e.type === "machine.MachineStatusEvent" && e.payload.stage === "RUNNING");
          history.cancel();
          const statuses = past.filter((e) => e.type === "machine.MachineStatusEvent");
          expect(statuses[0]?.payload.stage).toBe("BOOTING");
          expect(statuses.at(-1)?.payload).toMatchObject({ stage: "RUNNING" });
          const load = past.find((e) => e.type === "machine.ConfigLoadErrorEvent");
          expect(String(load?.payload.error)).toContain("/test/bad.yaml");

          const live = c.events({ tail: 0 });
          const bad = await c
            .applyConfiguration({ data: "version: v1alpha1\nmachine:\n  colour: blue\n", mode: "no_reboot" })
            .catch((e: { code: number }) => e);
          expect((bad as { code: number }).code).toBe(3);
          const v = await take(live, (e) => e.type === "machine.ConfigValidationErrorEvent");
          expect(String(v.at(-1)?.payload.error)).toContain("machine.colour: unknown key");
          live.cancel();

          const reply = await c.reboot();
          expect(reply.actor_id).toMatch(/^[0-9a-f-]{36}$/);
          const mine = c.events({ tail: -1, actorId: reply.actor_id });
          const events = await take(mine, (e) => e.type === "machine.SequenceEvent" && e.payload.action === "START");
          mine.cancel();
          expect(events.every((e) => e.actorId === reply.actor_id)).toBe(true);
          expect(events.find((e) => e.type === "machine.MachineStatusEvent")?.payload.stage).toBe("REBOOTING");
          expect(events.at(-1)?.payload).toMatchObject({ sequence: "reboot", action: "START" });
        } finally {
          c.close();
        }
        expect((await sb.exited).initSignal).toBe("SIGHUP");
      },
    );
  }, 90_000);
});
