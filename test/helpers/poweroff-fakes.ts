// Fakes for the poweroff/shutdown unit tests: a recording PowerClient, fake
// reboot(2)/sync(2) and kmsg. Nothing here can reach the real reboot(2).
import type { Io } from "../../src/lib/io.ts";
import type { PowerClient } from "../../src/applets/power/client.ts";
import type { Deps } from "../../src/applets/power/execute.ts";
import type { RebootCommand } from "../../src/node/power.ts";
import type { PowerAction, ScheduledShutdown } from "../../src/node/power.ts";

export interface Recorded {
  calls: string[];
  kmsg: string[];
  connects: string[];
  io: Io & { out: string; err: string };
}

export function fakeIo(isTTY: boolean): Io & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    env: {},
    isTTY,
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}

export interface FakeOptions {
  isTTY?: boolean;
  /** Make connect() throw this. */
  connectError?: Error;
  /** Make every client call throw this. */
  callError?: Error;
  /** Whether cancel() finds a scheduled shutdown. */
  scheduled?: boolean;
  /** Never answer (for the timeout path). */
  hang?: boolean;
  rebootError?: Error;
}

export function fakeDeps(o: FakeOptions = {}): Deps & { rec: Recorded } {
  const rec: Recorded = { calls: [], kmsg: [], connects: [], io: fakeIo(o.isTTY ?? false) };
  const answer = async <T>(call: string, value: T): Promise<T> => {
    rec.calls.push(call);
    if (o.hang) return new Promise<T>(() => {});
    if (o.callError) throw o.callError;
    return value;
  };
  const client: PowerClient = {
    power: (a: PowerAction) => answer(`power ${a}`, undefined),
    schedule: (s: ScheduledShutdown) => answer(`schedule ${s.action} ${s.at.toISOString()} "${s.message}"`, undefined),
    cancel: () => answer("cancel", o.scheduled ?? true),
    close: () => void rec.calls.push("close"),
  };
  return {
    rec,
    io: rec.io,
    socketPath: "/test/machine.sock",
    connect: async (path) => {
      rec.connects.push(path);
      if (o.connectError) throw o.connectError;
      return client;
    },
    reboot: async (cmd: RebootCommand) => {
      rec.calls.push(`reboot ${cmd}`);
      if (o.rebootError) throw o.rebootError;
    },
    sync: async () => void rec.calls.push("sync"),
    kmsg: (line) => void rec.kmsg.push(line),
    pid: 4242,
    timeoutMs: 50,
  };
}
