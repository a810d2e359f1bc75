// issue 18 item 7 (try timeout): a try period over the documented bound (24 h,
// MAX_TRY_MS) is INVALID_ARGUMENT; an accepted one fires when it says (not at
// once), the reply's "until" is right, and the revert goes back to the stored
// config, surviving a stored-config change made during the try. Needs root and
// `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { bootSandbox, type Sandbox } from "../../../scripts/sandbox.ts";
import { connect, type MachineClient } from "../../../src/api/client.ts";

const cfg = (hostname: string) => `version: v1alpha1\nmachine:\n  network:\n    hostname: ${hostname}\n`;
const DAY_MS = 24 * 60 * 60 * 1000;

let sb: Sandbox | undefined;
let api: MachineClient | undefined;
afterAll(async () => {
  api?.close();
  await sb?.cleanup();
});

async function node(): Promise<MachineClient> {
  if (api) return api;
  sb = await bootSandbox({ config: cfg("stored-node") });
  await sb.waitForLine(/all services healthy/, 60_000);
  api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 20_000 });
  return api;
}

const attempt = (c: MachineClient, hostname: string, tryTimeoutMs: number) =>
  c.applyConfiguration({ data: cfg(hostname), mode: "try", tryTimeoutMs }).then(
    (r) => ({ code: 0, text: r.mode_details }),
    (e: { code?: number; message?: string }) => ({ code: e.code ?? -1, text: String(e.message) }),
  );

const untilOf = (text: string) => Date.parse(/applied until (\S+),/.exec(text)?.[1] ?? "");

describe("apply mode try", () => {
  test("over 24 h (2^31 ms, 24 h + 1 s) is INVALID_ARGUMENT and changes nothing", async () => {
    const c = await node();
    for (const ms of [2 ** 31, DAY_MS + 1000, 1e15]) {
      const r = await attempt(c, "too-long", ms);
      console.log(`[figure] try ${ms} ms: ${r.code === 0 ? `accepted "${r.text}"` : `refused ${r.code}`}`);
      expect(r.code).toBe(3);
      expect(await c.hostname()).toBe("stored-node");
    }
  }, 90_000);

  test("24 h is accepted, its until is now + 24 h, and it does not fire early; a stored apply during it ends the try for good", async () => {
    const c = await node();
    const t0 = Date.now();
    const r = await attempt(c, "day-node", DAY_MS);
    expect(r.code).toBe(0);
    expect(Math.abs(untilOf(r.text) - (t0 + DAY_MS))).toBeLessThan(5000);
    await Bun.sleep(2000);
    expect(await c.hostname()).toBe("day-node");
    // Stored during the try: nothing is left to revert.
    await c.applyConfiguration({ data: cfg("stored-node"), mode: "no_reboot" });
    expect(await c.hostname()).toBe("stored-node");
  }, 90_000);

  test("a 1.5 s try fires at 1.5 s, back to the stored config; a second try during the first reverts to the stored one, not the first try", async () => {
    const c = await node();
    const t0 = Date.now();
    const r = await attempt(c, "short-node", 1500);
    expect(r.code).toBe(0);
    expect(Math.abs(untilOf(r.text) - (t0 + 1500))).toBeLessThan(1000);
    await Bun.sleep(600);
    expect(await c.hostname()).toBe("short-node");
    const second = await attempt(c, "second-node", 2000);
    expect(second.code).toBe(0);
    await Bun.sleep(1500); // past the first try's end: the second one is in force
    expect(await c.hostname()).toBe("second-node");
    await Bun.sleep(1500);
    expect(await c.hostname()).toBe("stored-node");
    expect(await c.getConfiguration()).toBe(cfg("stored-node"));
  }, 90_000);

  test("a stored apply during a try, then the try's end: the stored config stays (no revert to the pre-try one)", async () => {
    const c = await node();
    expect((await attempt(c, "trial-node", 1500)).code).toBe(0);
    await c.applyConfiguration({ data: cfg("new-stored"), mode: "no_reboot" });
    await Bun.sleep(2500);
    expect(await c.hostname()).toBe("new-stored");
    expect(await c.getConfiguration()).toBe(cfg("new-stored"));
  }, 90_000);
});
