// One query to a named server, changing nothing: what the machine API's
// TimeService.Time / TimeCheck answer (the server's time next to ours).
import { DEFAULT_LIMITS, type CheckLimits } from "./check.ts";
import { realTimers, type Clock, type Resolver, type Timers, type UdpTransport } from "./deps.ts";
import { query, type Failure, type Sample } from "./query.ts";
import { parseServer, resolveServer, systemResolver } from "./servers.ts";
import { bunUdp } from "./udp.ts";

export type QueryServerResult = ({ ok: true } & Sample) | ({ ok: false } & Failure);

/** Tries each address of `server` until one answers usably; the last failure otherwise. */
export async function queryServer(
  server: string,
  deps: { clock: Clock; transport?: UdpTransport; timers?: Timers; resolve?: Resolver },
  opts: { timeoutMs?: number; limits?: Partial<CheckLimits> } = {},
): Promise<QueryServerResult> {
  const spec = parseServer(server);
  let addresses: string[];
  try {
    addresses = await resolveServer(spec, deps.resolve ?? systemResolver);
  } catch (e) {
    return { ok: false, server, address: "", port: spec.port, reason: "dns", detail: `resolve: ${e instanceof Error ? e.message : String(e)}` };
  }
  let last: QueryServerResult | undefined;
  for (const address of addresses) {
    last = await query(
      { server, address, port: spec.port },
      { transport: deps.transport ?? bunUdp, clock: deps.clock, timers: deps.timers ?? realTimers },
      { timeoutMs: opts.timeoutMs ?? 2_000, limits: { ...DEFAULT_LIMITS, ...opts.limits } },
    );
    if (last.ok) return last;
  }
  return last!;
}
