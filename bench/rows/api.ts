// Row 4: machine API latency and throughput over the unix socket. The peer is
// containerd's own gRPC Version call (Go gRPC, in the same node), reached
// through the node's mount namespace (/proc/<init>/root/...) with the very
// same client transport, so the difference is the server side alone.
import { connect } from "../../src/api/client.ts";
import { Transport, parseEndpoint } from "../../src/api/transport.ts";
import { summarize, type Summary } from "../stats.ts";

export interface Latency {
  p50: number;
  p99: number;
  all: Summary;
}

async function latency(call: () => Promise<unknown>, n: number): Promise<Latency> {
  for (let i = 0; i < 50; i++) await call(); // warm: JIT, session
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    samples.push((performance.now() - t0) * 1000);
  }
  const all = summarize(samples);
  const sorted = samples.sort((a, b) => a - b);
  return { p50: all.median, p99: sorted[Math.floor(sorted.length * 0.99)]!, all };
}

/** Calls per second with `clients` connections each calling back to back for `ms`. */
async function throughput(makeCall: () => () => Promise<unknown>, clients: number, ms: number): Promise<number> {
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

export interface ApiRow {
  minos: { latencyUs: Latency; rps: number };
  containerd: { latencyUs: Latency; rps: number };
}

const CONTAINERD_VERSION = "/containerd.services.version.v1.Version/Version";

export async function apiRow(socketPath: string, initHostPid: number, n = 2000, clients = 8, ms = 3000): Promise<ApiRow> {
  // Every client opened is closed at the end: an open session keeps its
  // connection (and the server's per-connection state) alive after the row.
  const opened: Array<{ close(): void }> = [];
  const minosCall = () => {
    const c = connect({ endpoint: `unix:${socketPath}` });
    opened.push(c);
    return () => c.version();
  };
  const ctrSock = `/proc/${initHostPid}/root/run/containerd/containerd.sock`;
  const ctrCall = () => {
    const t = new Transport(parseEndpoint(`unix:${ctrSock}`));
    opened.push(t);
    return () => t.unary(CONTAINERD_VERSION, new Uint8Array(0));
  };
  try {
    return {
      minos: { latencyUs: await latency(minosCall(), n), rps: await throughput(minosCall, clients, ms) },
      containerd: { latencyUs: await latency(ctrCall(), n), rps: await throughput(ctrCall, clients, ms) },
    };
  } finally {
    for (const c of opened) c.close();
  }
}
