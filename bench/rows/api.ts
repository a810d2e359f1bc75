// Row 4: machine API latency and throughput over the unix socket. The peer is
// containerd's own gRPC Version call (Go gRPC, in the same node), reached
// through the node's mount namespace (/proc/<init>/root/...) with the very
// same client transport, so the difference is the server side alone. Each
// round measures both, the order swapped every round (bench/rounds.ts).
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Transport, parseEndpoint } from "../../src/api/transport.ts";
import { quantile } from "../stats.ts";
import { pair } from "../rounds.ts";

export interface Latency {
  p50: number;
  p99: number;
  n: number;
  /** CPU time the hypervisor took from this VM's vCPUs during the calls, % of all vCPUs' time (/proc/stat "steal"). */
  stealPct: number;
}

/** The host-wide steal counter in clock ticks (USER_HZ, 100 a second on Linux). */
function stealTicks(): number {
  return Number(readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/)[8] ?? 0);
}

type Call = () => Promise<unknown>;

async function latency(call: Call, n: number): Promise<Latency> {
  for (let i = 0; i < 200; i++) await call(); // warm: JIT, session
  const samples = new Float64Array(n);
  const steal0 = stealTicks();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    samples[i] = (performance.now() - t0) * 1000;
  }
  const stolenMs = (stealTicks() - steal0) * 10;
  const stealPct = (100 * stolenMs) / ((performance.now() - start) * availableParallelism());
  const sorted = Array.from(samples).sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), n, stealPct };
}

/** Calls per second with `clients` connections each calling back to back for `ms`. */
async function throughput(makeCall: () => Call, clients: number, ms: number): Promise<number> {
  const calls = Array.from({ length: clients }, makeCall);
  for (const c of calls) await c();
  let count = 0;
  const until = performance.now() + ms;
  await Promise.all(
    calls.map(async (c) => {
      while (performance.now() < until) {
        await c();
        count++;
      }
    }),
  );
  return count / (ms / 1000);
}

export interface ApiSide {
  latencyUs: Latency;
  rps: number;
}

export interface ApiRound {
  minos: ApiSide;
  containerd: ApiSide;
}

const CONTAINERD_VERSION = "/containerd.services.version.v1.Version/Version";
const MACHINE_VERSION = "/machine.MachineService/Version";

/** Opens clients that are all closed by close(): an open session keeps the server's per-connection state alive. */
export class Clients {
  private opened: Array<{ close(): void }> = [];
  /**
   * minos's Version through the same raw unary call as containerd's: neither
   * side's response is decoded by the bench (the decoded client's codec work
   * and garbage used to land on minos's side of the ratio only).
   */
  minos(socketPath: string): Call {
    return this.raw(socketPath, MACHINE_VERSION);
  }
  containerd(initHostPid: number): Call {
    const t = new Transport(parseEndpoint(`unix:/proc/${initHostPid}/root/run/containerd/containerd.sock`));
    this.opened.push(t);
    return () => t.unary(CONTAINERD_VERSION, new Uint8Array(0));
  }
  /** A gRPC endpoint that answers the containerd Version path (bench/proto-server.ts). */
  raw(socketPath: string, path: string): Call {
    const t = new Transport(parseEndpoint(`unix:${socketPath}`));
    this.opened.push(t);
    return () => t.unary(path, new Uint8Array(0));
  }
  close(): void {
    for (const c of this.opened) c.close();
    this.opened = [];
  }
}

async function side(makeCall: () => Call, n: number, clients: number, ms: number): Promise<ApiSide> {
  return { latencyUs: await latency(makeCall(), n), rps: await throughput(makeCall, clients, ms) };
}

/** One round: minos and containerd, latency (n sequential calls) then throughput (`clients` for `ms`). */
export async function apiRound(round: number, socketPath: string, initHostPid: number, n: number, clients = 8, ms = 2000): Promise<ApiRound> {
  const cl = new Clients();
  try {
    const [minos, containerd] = await pair(
      round,
      () => side(() => cl.minos(socketPath), n, clients, ms),
      () => side(() => cl.containerd(initHostPid), n, clients, ms),
    );
    return { minos, containerd };
  } finally {
    cl.close();
  }
}

/** Any two endpoints side by side (the bench-only server prototype against minos). */
export async function sideBySide(round: number, a: () => Call, b: () => Call, n: number, clients = 8, ms = 2000): Promise<[ApiSide, ApiSide]> {
  return pair(
    round,
    () => side(a, n, clients, ms),
    () => side(b, n, clients, ms),
  );
}

/**
 * PID 1's RSS every `step` calls up to `total`, `clients` connections calling
 * Version back to back (RSS is read between batches, from the host).
 */
export async function rssGrowth(socketPath: string, rss: () => number, total: number, step: number, clients = 8): Promise<{ calls: number; kib: number }[]> {
  const cl = new Clients();
  try {
    const calls = Array.from({ length: clients }, () => cl.minos(socketPath));
    const out = [{ calls: 0, kib: rss() }];
    for (let done = 0; done < total; done += step) {
      let left = step;
      await Promise.all(
        calls.map(async (c) => {
          while (left > 0) {
            left--;
            await c();
          }
        }),
      );
      out.push({ calls: done + step, kib: rss() });
    }
    return out;
  } finally {
    cl.close();
  }
}
