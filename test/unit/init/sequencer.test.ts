// The sequencer on its own: named phases in order, each timed and emitted as
// events; one sequence at a time with a clear error; shutdown taking over a
// running boot; a failing shutdown task not stopping the shutdown.
import { describe, expect, test } from "bun:test";
import { FailedPreconditionError } from "../../../src/lib/errors.ts";
import { EventBus } from "../../../src/init/events.ts";
import { NodeLog } from "../../../src/init/mechanisms/log.ts";
import { SequenceAborted, Sequencer, skipped, type Sequence } from "../../../src/init/sequences/sequencer.ts";

function setup() {
  const log = new NodeLog({ console: false });
  const events = new EventBus();
  return { log, events, seq: new Sequencer(log, events) };
}

/** A task that waits until aborted (like the boot's long waits). */
const waitForAbort = (name: string, started: () => void) => ({
  name,
  run: (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      started();
      signal.addEventListener("abort", () => resolve(), { once: true });
    }),
});

describe("sequencer", () => {
  test("runs phases and tasks in order, logs and emits each", async () => {
    const { log, events, seq } = setup();
    const order: string[] = [];
    await seq.run({
      name: "boot",
      onTaskError: "abort",
      phases: [
        {
          name: "one",
          tasks: [
            { name: "a", run: () => void order.push("a") },
            { name: "b", run: () => skipped("not needed") },
          ],
        },
        { name: "two", tasks: [{ name: "c", run: async () => void order.push("c") }] },
      ],
    });
    expect(order).toEqual(["a", "c"]);
    const kinds = events
      .all()
      .map((e) => `${e.kind}:${"phase" in e ? e.phase : "task" in e ? e.task : "sequence" in e ? e.sequence : ""}:${"action" in e ? e.action : ""}`);
    expect(kinds).toEqual([
      "sequence:boot:start",
      "phase:one:start",
      "task:a:start",
      "task:a:stop",
      "task:b:start",
      "task:b:stop",
      "phase:one:stop",
      "phase:two:start",
      "task:c:start",
      "task:c:stop",
      "phase:two:stop",
      "sequence:boot:stop",
    ]);
    const text = log.ring.tail().join("\n");
    expect(text).toMatch(/one\/b: skipped \(not needed\)/);
    expect(text).toMatch(/phase two: done in \d+ ms/);
  });

  test("a second sequence gets 'sequence X is running'; shutdown takes over a running boot", async () => {
    const { seq } = setup();
    let bootWaiting!: () => void;
    const waiting = new Promise<void>((r) => (bootWaiting = r));
    const after: string[] = [];
    const boot: Sequence = {
      name: "boot",
      onTaskError: "abort",
      phases: [
        { name: "services", tasks: [waitForAbort("wait healthy", bootWaiting)] },
        { name: "never", tasks: [{ name: "x", run: () => void after.push("boot continued") }] },
      ],
    };
    const booting = seq.run(boot);
    await waiting;
    expect(() => seq.assertCanRun("boot")).toThrow(new FailedPreconditionError("sequence boot is running"));
    await expect(seq.run({ ...boot })).rejects.toThrow("sequence boot is running");

    const shutdown = seq.run({
      name: "shutdown",
      onTaskError: "continue",
      phases: [{ name: "stop", tasks: [{ name: "y", run: () => void after.push("shutdown ran") }] }],
    });
    await expect(booting).rejects.toBeInstanceOf(SequenceAborted);
    await shutdown;
    expect(after).toEqual(["shutdown ran"]);
    expect(seq.running).toBeUndefined();
  });

  test("a shutdown is not taken over by another shutdown, and a failing task does not stop it", async () => {
    const { seq, log } = setup();
    let inside!: () => void;
    const reached = new Promise<void>((r) => (inside = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const shutdown = seq.run({
      name: "shutdown",
      onTaskError: "continue",
      phases: [
        {
          name: "p1",
          tasks: [
            {
              name: "boom",
              run: () => {
                throw new Error("umount failed");
              },
            },
            {
              name: "hold",
              run: async () => {
                inside();
                await gate;
              },
            },
          ],
        },
        { name: "p2", tasks: [{ name: "last", run: () => void ran.push("last") }] },
      ],
    });
    await reached;
    // Only a boot can be taken over; a shutdown in progress finishes.
    expect(() => seq.assertCanRun("reboot")).toThrow("sequence shutdown is running");
    expect(() => seq.assertCanRun("shutdown")).toThrow("sequence shutdown is running");
    expect(() => seq.assertCanRun("boot")).toThrow("sequence shutdown is running");
    release();
    await shutdown;
    expect(ran).toEqual(["last"]);
    expect(log.ring.tail().join("\n")).toMatch(/p1\/boom: failed: umount failed/);
  });
});
