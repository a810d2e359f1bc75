// Where minosctl connects (-e, endpoints) and which nodes a call is for (-n,
// nodes), as talosctl separates them. The endpoint receives every call; the
// nodes travel as gRPC metadata and the endpoint forwards to each
// (src/api/forward.ts), tagging each reply with its node.
import { UsageError } from "../../lib/args.ts";
import { LOCAL_ENDPOINT } from "../../node/paths.ts";
import type { Context } from "./config.ts";

export { LOCAL_ENDPOINT };

/** gRPC metadata keys of Talos's apid: one target (`node`) or several (`nodes`, one value each). */
export const NODE_METADATA = "node";
export const NODES_METADATA = "nodes";

/** As many as an endpoint forwards to in one call (src/api/forward.ts MAX_TARGETS). */
export const MAX_NODES = 100;

export interface Targets {
  /** Tried in order until one answers. */
  endpoints: string[];
  /** What the call is for; empty = the endpoint itself. */
  nodes: string[];
  /** What the client sends so the endpoint forwards. */
  metadata: Record<string, string | string[]>;
}

/**
 * -e / -n over the context's endpoints / nodes. Without any endpoint a single
 * node is dialled directly (the habit `minosctl -n host version` keeps
 * working, and a unix: socket can only be an endpoint); several nodes need an
 * endpoint to forward through.
 */
export function resolveTargets(flagEndpoints: string[], flagNodes: string[], ctx: Context): Targets {
  let endpoints = flagEndpoints.length ? flagEndpoints : (ctx.endpoints ?? []);
  let nodes = flagNodes.length ? flagNodes : (ctx.nodes ?? []);
  if (endpoints.length === 0) {
    if (nodes.length > 1) throw new UsageError(`${nodes.length} nodes need an endpoint to forward through: pass -e ENDPOINT (or set the context's endpoints)`);
    endpoints = nodes.length === 1 ? nodes : [LOCAL_ENDPOINT];
    nodes = [];
  }
  if (nodes.length > MAX_NODES) throw new UsageError(`${nodes.length} nodes in one call; at most ${MAX_NODES} (the endpoint's limit)`);
  const unix = nodes.find((n) => n.startsWith("unix:") || n.startsWith("/"));
  if (unix) throw new UsageError(`-n ${unix}: a socket is an endpoint (-e), not a node an endpoint can forward to`);
  const metadata: Record<string, string | string[]> =
    nodes.length === 0 ? {} : nodes.length === 1 ? { [NODE_METADATA]: nodes[0]! } : { [NODES_METADATA]: nodes };
  return { endpoints, nodes, metadata };
}
