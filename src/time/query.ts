// One NTP exchange with one server address: send a request, wait for its answer
// or a timeout, check the answer, measure.
import { checkReply, DEFAULT_LIMITS, NOT_OUR_ANSWER, type CheckLimits, type RejectReason } from "./check.ts";
import type { Clock, Timers, UdpTransport } from "./deps.ts";
import { encodeRequest, randomNonce, refIdText } from "./packet.ts";

/** Where to send: the configured name, and one of its addresses. */
export interface Target {
  server: string;
  address: string;
  port: number;
}

export interface Sample extends Target {
  stratum: number;
  leap: number;
  /** The server's reference: its upstream's address (stratum >= 2, as a dotted quad) or refclock name. */
  refId: string;
  /** Server clock minus ours, ns (positive: we are behind). */
  offsetNs: bigint;
  delayNs: bigint;
  /** The server's transmit time and our receive time, Unix ns (our clock as it was then). */
  remoteNs: bigint;
  localNs: bigint;
  rootDelayS: number;
  rootDispersionS: number;
}

export type FailReason = RejectReason | "timeout" | "unreachable" | "send-failed" | "stopped" | "dns";

export interface Failure extends Target {
  reason: FailReason;
  detail: string;
  kiss?: string;
}

export type QueryResult = ({ ok: true } & Sample) | ({ ok: false } & Failure);

export interface QueryDeps {
  transport: UdpTransport;
  clock: Clock;
  timers: Timers;
  /** Nonce source (tests fix it). */
  nonce?: () => bigint;
}

export interface QueryOptions {
  timeoutMs: number;
  limits?: CheckLimits;
  /** Ends the query early (reason "stopped"). */
  signal?: AbortSignal;
}

function refIdString(stratum: number, refId: number): string {
  if (stratum >= 2) return [24, 16, 8, 0].map((s) => (refId >>> s) & 0xff).join(".");
  return refIdText(refId);
}

export async function query(target: Target, deps: QueryDeps, opts: QueryOptions): Promise<QueryResult> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const nonce = (deps.nonce ?? randomNonce)();
  const family = target.address.includes(":") ? 6 : 4;
  let t1Ns = 0n;
  let firstIgnored: Failure | undefined;

  return await new Promise<QueryResult>((resolve) => {
    let done = false;
    let cancelTimer = () => {};
    let endpoint: { close(): void } | undefined;
    const onAbort = () => finish({ ok: false, ...target, reason: "stopped", detail: "time sync stopped" });
    const finish = (r: QueryResult) => {
      if (done) return;
      done = true;
      cancelTimer();
      endpoint?.close();
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(r);
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    deps.transport
      .open(
        family,
        (data, address, port) => {
          if (done) return;
          const t4Ns = deps.clock.realtimeNs();
          const r = checkReply(data, { address, port }, { address: target.address, port: target.port, nonce, t1Ns, t4Ns }, limits);
          if (r.ok) {
            const p = r.packet;
            const m = r.measurement;
            finish({
              ok: true,
              ...target,
              stratum: p.stratum,
              leap: p.leap,
              refId: refIdString(p.stratum, p.refId),
              offsetNs: m.offsetNs,
              delayNs: m.delayNs,
              remoteNs: m.remoteNs,
              localNs: t4Ns,
              rootDelayS: p.rootDelay,
              rootDispersionS: p.rootDispersion,
            });
            return;
          }
          const failure: Failure = { ...target, reason: r.reason, detail: r.detail };
          if (r.kiss !== undefined) failure.kiss = r.kiss;
          // Not an answer to our request: keep waiting for the real one, but
          // remember why, so a timeout can say "only garbage came back".
          if (NOT_OUR_ANSWER.has(r.reason)) firstIgnored ??= failure;
          else finish({ ok: false, ...failure });
        },
        (e) => {
          // ICMP port/host unreachable for our request: nobody serves NTP there.
          // Unauthenticated like any ICMP, but believing it costs only a retry.
          finish({ ok: false, ...target, reason: "unreachable", detail: e.message });
        },
      )
      .then(
        (ep) => {
          endpoint = ep;
          if (done) return ep.close();
          cancelTimer = deps.timers.setTimeout(() => {
            const detail = `no answer within ${opts.timeoutMs} ms`;
            finish(
              firstIgnored
                ? { ok: false, ...firstIgnored, detail: `${detail}; ignored: ${firstIgnored.reason} (${firstIgnored.detail})` }
                : { ok: false, ...target, reason: "timeout", detail },
            );
          }, opts.timeoutMs);
          // T1 as close to the send as we can: encoding first keeps its cost out
          // of the outbound leg. (What remains of a first query's bias, -0.4 ms
          // against chronyd under `bun run`, -0.1 ms compiled, is inside the send
          // call and within delay / 2, the bound any single NTP sample has.)
          const request = encodeRequest(nonce);
          t1Ns = deps.clock.realtimeNs();
          try {
            ep.send(request, target.address, target.port);
          } catch (e) {
            finish({ ok: false, ...target, reason: "send-failed", detail: e instanceof Error ? e.message : String(e) });
          }
        },
        (e: unknown) => finish({ ok: false, ...target, reason: "send-failed", detail: `open UDP socket: ${e instanceof Error ? e.message : String(e)}` }),
      );
  });
}
