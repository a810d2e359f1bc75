// gRPC to containerd's unix socket: the generic client on our own HTTP/2
// (src/api/h2/grpc-client.ts) with containerd's user agent and windows. Not
// node:http2: a node running containers would load it (and node:net) into
// PID 1 for this client alone (src/lib/node-libs.ts).
import { Channel as H2Channel } from "../api/h2/grpc-client.ts";
import { ApiError } from "../api/errors.ts";

export { ApiError };

export interface CallOptions {
  /** Deadline for the whole call: sent as grpc-timeout and enforced here. */
  timeoutMs?: number;
  /** Extra request headers (gRPC metadata: containerd-namespace, containerd-lease), lower-case names. */
  metadata?: Record<string, string>;
}
export { Call, Deframer } from "../api/h2/grpc-client.ts";

/** A larger receive window than HTTP/2's 64 KiB keeps content reads from stalling on WINDOW_UPDATEs. */
const WINDOW_BYTES = 8 * 1024 * 1024;
const CLIENT_SETTINGS = { maxConcurrentStreams: 100, streamWindow: WINDOW_BYTES, connectionWindow: WINDOW_BYTES, maxHeaderListBytes: 64 * 1024 };

/** The 5-byte length prefix is the machine API's (one definition: src/api/framing.ts). */
export { frame } from "../api/framing.ts";

export const USER_AGENT = "minos-containerd-client";

/** A lazily (re)connected channel to containerd's socket: a containerd restart needs no new client. */
export class Channel extends H2Channel {
  constructor(socketPath: string) {
    super(socketPath, { userAgent: USER_AGENT, settings: CLIENT_SETTINGS, hint: "is containerd running?" });
  }
}
