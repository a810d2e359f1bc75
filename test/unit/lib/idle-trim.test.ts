// The idle memory trim (src/lib/idle-trim.ts): after enough events and a quiet
// interval it trims once; never while events keep coming, never for a few
// events, and a failing trim is swallowed. Then the machine API server counts
// its calls into one.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../../src/api/client.ts";
import { startMachineApi } from "../../../src/api/server.ts";
import { IdleTrim } from "../../../src/lib/idle-trim.ts";
import { FakeBackend } from "../../helpers/fake-backend.ts";

const QUIET = 40;

function counting(minEvents: number, quietMs = QUIET): { trim: IdleTrim; count: () => number } {
  let n = 0;
  return { trim: new IdleTrim({ quietMs, minEvents, trim: () => n++ }), count: () => n };
}

describe("IdleTrim", () => {
  test("trims once after minEvents and a quiet interval, not before minEvents", async () => {
    const { trim, count } = counting(10);
    for (let i = 0; i < 9; i++) trim.touch();
    await Bun.sleep(QUIET * 4);
    expect(count()).toBe(0);
    trim.touch();
    await Bun.sleep(QUIET * 4);
    expect(count()).toBe(1);
    expect(trim.trims).toBe(1);
    // The next trim needs another minEvents.
    for (let i = 0; i < 9; i++) trim.touch();
    await Bun.sleep(QUIET * 4);
    expect(count()).toBe(1);
    trim.touch();
    await Bun.sleep(QUIET * 4);
    expect(count()).toBe(2);
  });

  test("never while events keep coming", async () => {
    // A long quiet interval against touches every 10 ms: a loaded machine's stalls stay far below it.
    const { trim, count } = counting(1, 300);
    const until = performance.now() + 1200;
    while (performance.now() < until) {
      trim.touch();
      await Bun.sleep(10);
    }
    expect(count()).toBe(0);
    await Bun.sleep(1000);
    expect(count()).toBe(1);
  });

  test("not before the quiet time has passed since the last event", async () => {
    const { trim, count } = counting(1, 400);
    trim.touch();
    await Bun.sleep(250);
    expect(count()).toBe(0);
    await Bun.sleep(450);
    expect(count()).toBe(1);
  });

  test("a trim that throws is swallowed, and stop() cancels a pending one", async () => {
    const failing = new IdleTrim({
      quietMs: QUIET,
      minEvents: 1,
      trim: () => {
        throw new Error("no");
      },
    });
    failing.touch();
    await Bun.sleep(QUIET * 4);
    expect(failing.trims).toBe(1);
    const { trim, count } = counting(1);
    trim.touch();
    trim.stop();
    await Bun.sleep(QUIET * 4);
    expect(count()).toBe(0);
  });

  test("the default trim is Bun.shrink, which this runtime has", () => {
    expect(typeof Bun.shrink).toBe("function");
  });
});

describe("the machine API trims after a burst of calls", () => {
  const dir = mkdtempSync(join(tmpdir(), "minos-trim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("20 calls and a quiet interval: one trim; fewer calls: none", async () => {
    const socketPath = join(dir, "machine.sock");
    const api = await startMachineApi(new FakeBackend(), { socketPath, idleTrim: { quietMs: QUIET, minEvents: 20 } });
    const client = connect({ endpoint: `unix:${socketPath}`, timeoutMs: 5000 });
    try {
      for (let i = 0; i < 19; i++) await client.version();
      await Bun.sleep(QUIET * 4);
      expect(api.stats().idleTrims).toBe(0);
      await client.version();
      await Bun.sleep(QUIET * 4);
      expect(api.stats().idleTrims).toBe(1);
    } finally {
      client.close();
      await api.close();
    }
  });
});
