// Row 4b (bench-only prototypes): the Version call answered by grpc-js and by a
// bare node:http2 responder (bench/peers/), each a compiled program on the host
// with the same schema module, measured with the same client as minos. What the
// two differ by is what replacing grpc-js as minos's server transport could buy
// at most; what minos differs from the grpc-js responder by is minos's own
// handlers, backend and everything else PID 1 holds.
import { mkdtempSync, rmSync } from "node:fs";
import { Clients, sideBySide, type ApiSide } from "./api.ts";
import { rssKiB } from "./node.ts";
import { inRam } from "../ram.ts";
import { benchProgram } from "../tools.ts";

export interface ResponderSide extends ApiSide {
  rssStartKiB: number;
  rssAfterKiB: number;
}

async function startResponder(name: string, socket: string): Promise<Bun.Subprocess<"ignore", "pipe", "inherit">> {
  const p = Bun.spawn([inRam(await benchProgram(name)), socket], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!value || !new TextDecoder().decode(value).includes("ready")) throw new Error(`bench: ${name} did not start`);
  return p;
}

const VERSION = "/machine.MachineService/Version";

export async function responderRound(round: number, n: number, clients: number, ms: number): Promise<{ grpcjs: ResponderSide; h2: ResponderSide }> {
  const dir = mkdtempSync("/tmp/minos-bench-resp-");
  const procs: Bun.Subprocess[] = [];
  const cl = new Clients();
  try {
    const g = await startResponder("grpcjs-version", `${dir}/grpcjs.sock`);
    const h = await startResponder("h2-version", `${dir}/h2.sock`);
    procs.push(g, h);
    await Bun.sleep(200);
    const start = { g: rssKiB(g.pid), h: rssKiB(h.pid) };
    const [a, b] = await sideBySide(
      round,
      () => cl.raw(`${dir}/grpcjs.sock`, VERSION),
      () => cl.raw(`${dir}/h2.sock`, VERSION),
      n,
      clients,
      ms,
    );
    return {
      grpcjs: { ...a, rssStartKiB: start.g, rssAfterKiB: rssKiB(g.pid) },
      h2: { ...b, rssStartKiB: start.h, rssAfterKiB: rssKiB(h.pid) },
    };
  } finally {
    cl.close();
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RSS of the bench-only API client floor (bench/peers/api-client.ts) once it has called Version a few times. */
export async function apiClientFloorRss(socketPath: string, settleMs: number, env: Record<string, string> = {}): Promise<number> {
  const p = Bun.spawn([inRam(await benchProgram("api-client")), socketPath], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  try {
    const reader = p.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    await Bun.sleep(settleMs);
    return rssKiB(p.pid);
  } finally {
    p.kill("SIGKILL");
    await p.exited;
  }
}
