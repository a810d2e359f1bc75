// Issue 18 item 9 (connections): a burst of 2,000 connects to the node
// socket is queued, not refused (listen backlog), and connections that never
// send a request (silent, or only the HTTP/2 preface) are closed by PID 1
// within a few seconds, so its descriptor count comes back to where it was.
import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import type { Sandbox } from "../../../scripts/sandbox.ts";
import { bootSandbox } from "../../../scripts/sandbox.ts";
import { alive, fdCount } from "./api-attack.ts";

const BURST = 2000;
const PREFACE_ONLY = 200;

let sb: Sandbox;
let initPid: number;

beforeAll(async () => {
  sb = await bootSandbox({ echo: process.env.MINOS_TEST_ECHO ? true : undefined });
  await sb.waitForLine(/all services healthy/, 30_000);
  initPid = await sb.initPid();
}, 60_000);
afterAll(async () => {
  await sb?.cleanup();
});

/** Opens n connections at once; `first` is written on each. Resolves when all connected or failed. */
async function burst(n: number, first?: Buffer): Promise<{ sockets: net.Socket[]; refused: number; closedByServer: () => number }> {
  const sockets: net.Socket[] = [];
  let refused = 0;
  const closed = new Set<net.Socket>();
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect(sb.socketPath);
          sockets.push(s);
          let connected = false;
          s.on("connect", () => {
            connected = true;
            if (first) s.write(first);
            resolve();
          });
          s.on("error", () => {
            if (!connected) refused++; // connect(2) failed: ECONNREFUSED/EAGAIN from a full listen queue
            resolve();
          });
          s.on("close", () => {
            if (connected) closed.add(s);
            resolve();
          });
          s.on("data", () => {});
        }),
    ),
  );
  return { sockets, refused, closedByServer: () => closed.size };
}

test(`${BURST} connects at once: none refused; idle and preface-only connections are closed and PID 1's fds come back`, async () => {
  const fdsBefore = fdCount(initPid);
  const idle = await burst(BURST);
  const preface = await burst(PREFACE_ONLY, Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  await Bun.sleep(200);
  const fdsDuring = fdCount(initPid);
  await Bun.sleep(8000);
  const fdsAfter = fdCount(initPid);
  console.log(
    `connects: ${BURST} idle refused ${idle.refused}, ${PREFACE_ONLY} preface-only refused ${preface.refused}; closed by the server within 8 s: idle ${idle.closedByServer()}, preface ${preface.closedByServer()}; PID 1 fds before ${fdsBefore}, during ${fdsDuring}, after ${fdsAfter}`,
  );
  for (const s of [...idle.sockets, ...preface.sockets]) s.destroy();
  expect(alive(initPid)).toBe(true);
  expect(idle.refused + preface.refused).toBe(0);
  expect(idle.closedByServer()).toBe(BURST);
  expect(preface.closedByServer()).toBe(PREFACE_ONLY);
  expect(fdsAfter).toBeLessThan(fdsBefore + 10);
  const v = await Bun.$`dist/minos ctl -n unix:${sb.socketPath} version`.nothrow().quiet();
  expect(v.exitCode).toBe(0);
}, 60_000);
