// The collection under load (src/lib/busy-collect.ts): one full collection
// per everyEvents calls, on a later turn of the event loop rather than inside
// the call that reached the count, never closer together than minIntervalMs;
// a failing collection is swallowed and stop() cancels a pending one. Then
// the machine API server counts its calls into one.
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../../src/api/client.ts";
import { startMachineApi } from "../../../src/api/server.ts";
import { BusyCollector } from "../../../src/lib/busy-collect.ts";
import { FakeBackend } from "../../helpers/fake-backend.ts";

function counting(everyEvents: number, minIntervalMs = 0): { c: BusyCollector; count: () => number } {
  let n = 0;
  return { c: new BusyCollector({ everyEvents, minIntervalMs, collect: () => n++ }), count: () => n };
}

const turn = () => Bun.sleep(5);

describe("BusyCollector", () => {
  test("one collection per everyEvents calls, after the call that reached the count returned", async () => {
    const { c, count } = counting(10);
    for (let i = 0; i < 9; i++) c.touch();
    await turn();
    expect(count()).toBe(0);
    c.touch();
    expect(count()).toBe(0); // not inside the tenth call
    await turn();
    expect(count()).toBe(1);
    for (let i = 0; i < 9; i++) c.touch();
    await turn();
    expect(count()).toBe(1);
    c.touch();
    await turn();
    expect(count()).toBe(2);
    expect(c.collections).toBe(2);
  });

  test("calls past the count while one is pending schedule no second one", async () => {
    const { c, count } = counting(5);
    for (let i = 0; i < 9; i++) c.touch();
    await turn();
    expect(count()).toBe(1);
  });

  test("never two collections closer together than minIntervalMs", async () => {
    const { c, count } = counting(1, 300);
    c.touch();
    await turn();
    expect(count()).toBe(1);
    c.touch();
    await Bun.sleep(150);
    expect(count()).toBe(1);
    await Bun.sleep(300);
    expect(count()).toBe(2);
  });

  test("a collection that throws is swallowed, and stop() cancels a pending one", async () => {
    const failing = new BusyCollector({
      everyEvents: 1,
      collect: () => {
        throw new Error("no");
      },
    });
    failing.touch();
    await turn();
    expect(failing.collections).toBe(1);
    const { c, count } = counting(1);
    c.touch();
    c.stop();
    await turn();
    expect(count()).toBe(0);
  });

  test("the default collection is a synchronous full Bun.gc", async () => {
    const gc = spyOn(Bun, "gc");
    try {
      const c = new BusyCollector({ everyEvents: 1, minIntervalMs: 0 });
      c.touch();
      await turn();
      expect(gc).toHaveBeenCalledWith(true);
      expect(c.longestMs).toBeGreaterThan(0);
    } finally {
      gc.mockRestore();
    }
  });
});

describe("the machine API collects under a stream of calls", () => {
  const dir = mkdtempSync(join(tmpdir(), "minos-busy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("every 20 calls one collection; 19 calls: none", async () => {
    const socketPath = join(dir, "machine.sock");
    const api = await startMachineApi(new FakeBackend(), { socketPath, idleTrim: false, busyCollect: { everyEvents: 20, minIntervalMs: 0 } });
    const client = connect({ endpoint: `unix:${socketPath}`, timeoutMs: 5000 });
    try {
      for (let i = 0; i < 19; i++) await client.version();
      await turn();
      expect(api.stats().busyCollections).toBe(0);
      await client.version();
      await turn();
      expect(api.stats().busyCollections).toBe(1);
      for (let i = 0; i < 20; i++) await client.version();
      await turn();
      expect(api.stats().busyCollections).toBe(2);
    } finally {
      client.close();
      await api.close();
    }
  });
});
