// Request forwarding between nodes, as Talos's apid does it: a call whose
// gRPC metadata names target nodes (`node`: one, `nodes`: several) is not
// served here but sent on to each target's machine API, and every reply
// message is tagged with its target in metadata.hostname. With several
// targets the replies are concatenated (one message per node in `messages`,
// or each streamed message tagged); a target that fails becomes a message
// whose metadata carries the error, so the other nodes' answers still arrive.
//
// Authentication and roles: the node dials its peers with its own client
// certificate, issued at start from machine.ca with the Organization
// `os:impersonator` (as Talos's apid certificate). The forwarded call carries
// the caller's role in the `talos-role` metadata, and a receiving node takes
// that role only from a peer whose certificate is an impersonator's: the
// forwarded call keeps the caller's role, never the node's, so a reader who
// asks node A for node B is a reader on B. A `proxyfrom` header marks a
// forwarded call, which is always served locally (no forwarding loops).
//
// The hook in server.ts: certRole asks impersonatedRole() first, and each
// handler is wrapped by withForwarding().
import { authorize, roleFromOrganizations, type Role } from "./auth.ts";
import type { MethodInfo } from "./schema.ts";
import { decode, encode } from "./schema.ts";
import { issueClientCert, type CertAndKey } from "./pki/certs.ts";
import { ApiError, Transport, parseEndpoint } from "./transport.ts";
import type { Metadata, MethodHandler, ServerCall } from "./grpc-server.ts";
import { Code, StatusError, toStatus } from "./status.ts";

/** Talos's metadata keys (apid's director and authz). */
export const NODE_KEY = "node";
export const NODES_KEY = "nodes";
export const PROXY_FROM_KEY = "proxyfrom";
export const ROLE_KEY = "talos-role";
export const IMPERSONATOR = "os:impersonator";

/** Services whose replies have Talos's shape (messages[].metadata, or metadata in each streamed message). */
const FORWARDABLE = /^\/(machine\.MachineService|minos\.machine\.MinosService)\//;

/**
 * Targets one call may name: each is a TLS connection this node opens on the
 * caller's behalf. (One header field per node, as gRPC sends a list, also
 * meets HTTP/2's header-count limit, 128 fields by default in node:http2.)
 */
export const MAX_TARGETS = 100;

/** Bytes a forwarded stream may have queued for a slow client before it is ended (a node's stream share is 512 KiB). */
const FORWARD_QUEUE_BYTES = 8 * 1024 * 1024;

/** Deadline of a forwarded unary call when the caller set none. */
const FORWARD_TIMEOUT_MS = 30_000;

/** The targets a call's metadata names (comma-joined values split), or undefined when it is for this node. */
export function forwardTargets(md: Pick<Metadata, "get">): { targets: string[]; many: boolean } | undefined {
  if (md.get(PROXY_FROM_KEY).length > 0) return undefined;
  const split = (key: string) =>
    md
      .get(key)
      .flatMap((v) => String(v).split(","))
      .map((s) => s.trim())
      .filter(Boolean);
  const nodes = split(NODES_KEY);
  if (nodes.length > MAX_TARGETS) throw new StatusError(Code.INVALID_ARGUMENT, `${nodes.length} nodes in one call; at most ${MAX_TARGETS}`);
  if (nodes.length > 0) return { targets: [...new Set(nodes)], many: true };
  const node = split(NODE_KEY);
  if (node.length > 1) throw new StatusError(Code.INVALID_ARGUMENT, "node metadata must be single-valued");
  return node.length === 1 ? { targets: node, many: false } : undefined;
}

/**
 * The role of a verified peer whose certificate is an impersonator's: the
 * strongest role named in its talos-role metadata. Undefined for any other
 * peer (its own Organization is its role).
 */
export function impersonatedRole(orgs: string | string[] | undefined, md: Pick<Metadata, "get">): Role | undefined {
  const list = orgs === undefined ? [] : Array.isArray(orgs) ? orgs : [orgs];
  if (!list.includes(IMPERSONATOR)) return undefined;
  const role = roleFromOrganizations(md.get(ROLE_KEY).flatMap((v) => String(v).split(",")));
  if (!role) throw new StatusError(Code.PERMISSION_DENIED, `an ${IMPERSONATOR} call must name the caller's role in ${ROLE_KEY} metadata`);
  return role;
}

export interface Forwarder {
  /** Forwards one unary call to every target; resolves to the reply with each target's messages. */
  unary(m: MethodInfo, request: unknown, targets: string[], role: Role, timeoutMs: number): Promise<{ messages: unknown[] }>;
  /** Forwards one client stream (its requests, collected) to one target; resolves to its reply, tagged. */
  clientStream(m: MethodInfo, requests: unknown[], target: string, role: Role, timeoutMs: number): Promise<{ messages: unknown[] }>;
  /** Forwards one server stream to every target, in turn; each message goes to push (tagged). */
  stream(m: MethodInfo, request: unknown, targets: string[], role: Role, push: (msg: unknown) => boolean, signal: AbortSignal): Promise<void>;
}

/** A forwarder that authenticates with a client certificate it issues itself from the node CA. */
export function createForwarder(ca: CertAndKey, hostname: () => string): Forwarder {
  const self = issueClientCert(ca, IMPERSONATOR, "minos-forwarder");
  const tls = { ca: ca.cert, cert: self.cert, key: self.key };
  const transportTo = (target: string, role: Role) =>
    new Transport(parseEndpoint(target), tls, { [ROLE_KEY]: role, [PROXY_FROM_KEY]: hostname() || "unknown" });
  const failure = (target: string, e: unknown) => {
    const s = e instanceof ApiError ? { code: e.code, details: e.details } : toStatus(e);
    return { metadata: { hostname: target, error: s.details, status: { code: s.code, message: s.details, details: [] } } };
  };
  const tag = (msg: unknown, target: string) => {
    const o = msg as { metadata?: { hostname?: string } | null };
    o.metadata = { ...(o.metadata ?? {}), hostname: target };
    return o;
  };
  return {
    async unary(m, request, targets, role, timeoutMs) {
      const body = encode(m.requestType, request as object);
      const replies = await Promise.all(
        targets.map(async (target) => {
          const t = transportTo(target, role);
          try {
            const res = decode<{ messages?: unknown[] }>(m.responseType, await t.unary(m.path, body, { timeoutMs }));
            return (res.messages ?? []).map((msg) => tag(msg, target));
          } catch (e) {
            return [failure(target, e)];
          } finally {
            t.close();
          }
        }),
      );
      return { messages: replies.flat() };
    },
    async clientStream(m, requests, target, role, timeoutMs) {
      const t = transportTo(target, role);
      try {
        const bodies = requests.map((r) => encode(m.requestType, r as object));
        const res = decode<{ messages?: unknown[] }>(m.responseType, await t.clientStream(m.path, bodies, { timeoutMs }));
        return { messages: (res.messages ?? []).map((msg) => tag(msg, target)) };
      } catch (e) {
        return { messages: [failure(target, e)] };
      } finally {
        t.close();
      }
    },
    async stream(m, request, targets, role, push, signal) {
      const body = encode(m.requestType, request as object);
      // Concurrently, so a following stream (logs -f) of one node does not hold back the others.
      await Promise.all(
        targets.map(async (target) => {
          const t = transportTo(target, role);
          const s = t.serverStream(m.path, body);
          const stop = () => s.cancel();
          signal.addEventListener("abort", stop, { once: true });
          try {
            for await (const bytes of s) if (!push(tag(decode(m.responseType, bytes), target))) break;
          } catch (e) {
            if (!signal.aborted) push(failure(target, e));
          } finally {
            signal.removeEventListener("abort", stop);
            t.close();
          }
        }),
      );
    },
  };
}

type RoleOf = (call: ServerCall) => Role;

function remainingMs(call: ServerCall): number {
  return Number.isFinite(call.deadline) ? Math.max(1, call.deadline - Date.now()) : FORWARD_TIMEOUT_MS;
}

/** Answers a forwarded call with its collected reply. */
function replyWith(call: ServerCall, m: MethodInfo, result: Promise<{ messages: unknown[] }>): void {
  result.then(
    (res) => call.end(undefined, encode(m.responseType, res)),
    (e) => call.end(toStatus(e)),
  );
}

/**
 * Wraps a method's local handler: a call naming other nodes is forwarded
 * (after the caller's role is checked here, as for a local call), any other
 * is served by `local`. Without a forwarder (no CA key) such a call is
 * refused, never silently answered by this node.
 */
export function withForwarding(m: MethodInfo, local: MethodHandler, roleOf: RoleOf, forwarder: Forwarder | undefined): MethodHandler {
  if (m.clientStream && m.serverStream) return local;
  const route = (call: ServerCall): { targets: string[]; role: Role } | undefined => {
    const t = forwardTargets(call.metadata);
    if (!t) return undefined;
    if (!FORWARDABLE.test(m.path)) throw new StatusError(Code.INVALID_ARGUMENT, `forwarding to nodes is not supported for method ${m.path}`);
    if (!forwarder) throw new StatusError(Code.PERMISSION_DENIED, "no request forwarding: this node has no machine CA key to authenticate to other nodes");
    const role = roleOf(call);
    authorize(role, m.path);
    return { targets: t.targets, role };
  };
  if (local.requestStream) {
    // A stream of requests for one node (EtcdRecover's upload): collected here, then sent on whole.
    return {
      requestStream: true,
      handle(call, requests) {
        let r: ReturnType<typeof route>;
        try {
          r = route(call);
          if (r && r.targets.length !== 1) throw new StatusError(Code.INVALID_ARGUMENT, `${m.name} goes to one node; ${r.targets.length} were named`);
        } catch (e) {
          call.end(toStatus(e));
          return;
        }
        if (!r) return local.handle(call, requests);
        const { targets, role } = r;
        replyWith(
          call,
          m,
          (async () => {
            const collected: unknown[] = [];
            for await (const bytes of requests) collected.push(decode(m.requestType, bytes));
            return forwarder!.clientStream(m, collected, targets[0]!, role, remainingMs(call));
          })(),
        );
      },
    };
  }
  if (!m.serverStream) {
    return {
      requestStream: false,
      handle(call, bytes) {
        let r: ReturnType<typeof route>;
        try {
          r = route(call);
        } catch (e) {
          call.end(toStatus(e));
          return;
        }
        if (!r) return local.handle(call, bytes);
        const { targets, role } = r;
        replyWith(call, m, (async () => forwarder!.unary(m, decode(m.requestType, bytes), targets, role, remainingMs(call)))());
      },
    };
  }
  return {
    requestStream: false,
    handle(call, bytes) {
      let r: ReturnType<typeof route>;
      let request: unknown;
      try {
        r = route(call);
        if (r) request = decode(m.requestType, bytes);
      } catch (e) {
        call.end(toStatus(e));
        return;
      }
      if (!r) return local.handle(call, bytes);
      const controller = new AbortController();
      let exhausted = false;
      const abort = () => controller.abort();
      call.signal.addEventListener("abort", abort, { once: true });
      call.stream.onClose(abort);
      forwarder!
        .stream(
          m,
          request,
          r.targets,
          r.role,
          (msg) => {
            if (controller.signal.aborted || call.finished) return false;
            if (call.writableLength >= FORWARD_QUEUE_BYTES) {
              // A client reading slower than the nodes send: end it rather than queue without bound (as server.ts does).
              exhausted = true;
              controller.abort();
              call.end(toStatus(new StatusError(Code.RESOURCE_EXHAUSTED, "client is reading too slowly; stream ended")));
              return false;
            }
            call.write(encode(m.responseType, msg as object));
            return true;
          },
          controller.signal,
        )
        .then(
          () => {
            if (!exhausted) call.end();
          },
          (e) => {
            if (!exhausted) call.end(toStatus(e));
          },
        );
    },
  };
}
