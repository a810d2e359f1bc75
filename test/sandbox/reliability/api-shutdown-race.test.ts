// Issue 18 item 8: once a shutdown has begun, no ServiceStart/ServiceRestart
// may (re)start a service. 1,000 concurrent ServiceRestart calls on a dummy
// service with a Shutdown in their midst, over three boots: the console shows
// the service never entering Preparing/Running after "sequence shutdown:
// start", and the calls that came too late got FAILED_PRECONDITION.
import { expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { bootSandbox } from "../../../scripts/sandbox.ts";
import { busyboxFile, sh } from "../../helpers/busybox.ts";
import { configWith } from "../../helpers/node.ts";
import { rawLocal, type ApiFixture } from "../../helpers/fake-backend.ts";

const CONFIG = configWith([{ id: "dummy", command: sh("echo dummy up; exec sleep 100000"), restart: "always", stopGraceMs: 200 }]);
const BOOTS = 3;
const CALLS = 1000;

test(`${CALLS} concurrent ServiceRestart with a Shutdown among them: the service never starts once shutdown began (${BOOTS} boots)`, async () => {
  const lateStarts: string[][] = [];
  const codes: Record<string, number> = {};
  for (let boot = 0; boot < BOOTS; boot++) {
    const sb = await bootSandbox({ config: CONFIG, files: [busyboxFile()], echo: process.env.MINOS_TEST_ECHO ? true : undefined });
    try {
      await sb.waitForLine(/all services healthy/, 30_000);
      const c = rawLocal({ socketPath: sb.socketPath } as ApiFixture);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < CALLS; i++) {
        if (i === CALLS / 2) calls.push(c.unary("Shutdown", {}).catch((e) => e));
        calls.push(
          c.unary("ServiceRestart", { id: "dummy" }).then(
            () => "OK",
            (e: grpc.ServiceError) => grpc.status[e.code],
          ),
        );
      }
      for (const r of await Promise.all(calls)) if (typeof r === "string") codes[r] = (codes[r] ?? 0) + 1;
      c.close();
      await sb.exited;
      const start = sb.lines.findIndex((l) => /sequence shutdown: start/.test(l));
      expect(start).toBeGreaterThan(0);
      lateStarts.push(sb.lines.slice(start).filter((l) => /service dummy: (Preparing|Running)/.test(l)));
    } finally {
      await sb.cleanup();
    }
  }
  console.log(`replies over ${BOOTS} boots: ${JSON.stringify(codes)}; starts after shutdown began per boot: ${lateStarts.map((l) => l.length).join(", ")}`);
  expect(lateStarts).toEqual(Array.from({ length: BOOTS }, () => []));
  expect(codes.FAILED_PRECONDITION ?? 0).toBeGreaterThan(0);
}, 180_000);
