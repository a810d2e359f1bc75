// A lean gRPC client transport: unary, server-streaming and client-streaming
// calls, length-prefixed framing, status from (trailing) headers. poweroff,
// shutdown, the dashboard and minosctl start faster without loading grpc-js
// (~90 ms of module load), and these call shapes are all they use.
//
// A unix endpoint (the node's own socket: poweroff, shutdown, the dashboard
// on tty2, minosctl on the node) runs on our own HTTP/2
// (src/api/h2/grpc-client.ts); TCP with TLS (a workstation's minosctl,
// forwarding to other nodes, etcd) still runs on node:http2. Measured in
// compiled Bun programs calling Version every second without the JIT (as the
// dashboard runs): 38.6 MiB on node:http2, 33.8 MiB on our own.
import { frame } from "./framing.ts";
import type http2 from "node:http2";
import type tls from "node:tls";
import { CANCEL } from "./h2/frames.ts";
import { ipVersion } from "../lib/ip.ts";
import { http2Lib, tlsLib } from "../lib/node-libs.ts";
import { ApiError } from "./errors.ts";
import { CONNECTION_DEFAULTS } from "./h2/connection.ts";
import { Channel, Deframer, transportError as channelError, type Call } from "./h2/grpc-client.ts";
import { CODE_NAMES, Code } from "./status.ts";

export interface TlsOptions {
  /** PEM of the node CA the server certificate must chain to. */
  ca: string;
  /** PEM client certificate (its Organization is the role) and key. */
  cert: string;
  key: string;
}

export { ApiError };

/** "unix:/path" (or "unix:///path") or "host:port" / "[v6]:port"; a bare host gets port 50000. */
export type Endpoint = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export const DEFAULT_PORT = 50000;

export function parseEndpoint(s: string): Endpoint {
  if (s.startsWith("unix:")) return { kind: "unix", path: s.slice(5).replace(/^\/\/(?=\/)/, "") };
  if (s.startsWith("/")) return { kind: "unix", path: s };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { kind: "tcp", host: v6[1]!, port: v6[2] ? Number(v6[2]) : DEFAULT_PORT };
  const m = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `bad endpoint "${s}": want unix:/path or host:port`);
  return { kind: "tcp", host: m[1]!, port: m[2] ? Number(m[2]) : DEFAULT_PORT };
}

function statusFrom(headers: http2.IncomingHttpHeaders): ApiError | null | undefined {
  const raw = headers["grpc-status"];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === Code.OK) return null;
  let details = String(headers["grpc-message"] ?? "");
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded after all
  }
  return new ApiError(code, details || CODE_NAMES[code] || "error");
}

export interface CallOptions {
  /** Deadline for the whole call: sent as grpc-timeout and enforced here (DEADLINE_EXCEEDED). */
  timeoutMs?: number;
}

/** A server stream: iterate its messages; cancel() (or breaking out of the loop) stops it. */
export interface MessageStream extends AsyncIterable<Uint8Array> {
  cancel(): void;
}

const USER_AGENT = "minos-lean-client";
/** What a connection failure to a node probably means (both paths' errors). */
const NODE_HINTS = { hint: "is the node running?", deniedHint: " (run as root)" };

export class Transport {
  /** The node's own socket, on our HTTP/2 (undefined for TCP). */
  private readonly channel: Channel | undefined;
  private session!: http2.ClientHttp2Session;
  private sessionError: Error | undefined;

  private readonly tlsOptions: TlsOptions | "insecure" | undefined;
  /** The server said GOAWAY (it closes idle or over-cap connections): the next call opens a new session. */
  private goneAway = false;

  constructor(
    readonly endpoint: Endpoint,
    tlsOptions?: TlsOptions | "insecure",
    /** gRPC metadata sent with every call (Talos's `node`/`nodes`: which nodes the endpoint forwards to). */
    private readonly metadata: Readonly<Record<string, string | readonly string[]>> = {},
  ) {
    this.tlsOptions = tlsOptions;
    if (endpoint.kind === "unix")
      this.channel = new Channel(endpoint.path, {
        userAgent: USER_AGENT,
        settings: CONNECTION_DEFAULTS,
        ...NODE_HINTS,
        // Idle streams (logs -f) must not keep a one-shot command alive.
        unref: true,
      });
    else this.session = this.open();
  }

  /** A call on the unix channel, with this transport's metadata. */
  private h2Call(path: string, opts: CallOptions): Call {
    return this.channel!.open(path, { metadata: this.metadata, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) });
  }

  /**
   * Every reply of a unix call whose requests are `bodies`. A stream the server refused before it
   * started (its GOAWAY's REFUSED_STREAM: it closes idle or over-cap connections) is sent once more,
   * on a new connection: nothing reached the server.
   */
  private async h2Replies(path: string, bodies: readonly Uint8Array[], opts: CallOptions, retried = false): Promise<Uint8Array[]> {
    const call = this.h2Call(path, opts);
    try {
      for (const b of bodies) await call.send(b);
      call.end();
      const replies: Uint8Array[] = [];
      for (let m = await call.next(); m !== undefined; m = await call.next()) replies.push(m);
      await call.done;
      return replies;
    } catch (e) {
      if (call.refused && !retried) return this.h2Replies(path, bodies, opts, true);
      throw e;
    }
  }

  private open(): http2.ClientHttp2Session {
    const endpoint = this.endpoint;
    const tlsOptions = this.tlsOptions;
    let session: http2.ClientHttp2Session;
    if (endpoint.kind === "unix") throw new Error("transport: a unix endpoint runs on its HTTP/2 channel, not node:http2");
    if (tlsOptions === "insecure") {
      // A node in maintenance mode (talosctl --insecure): TLS without verifying its self-signed
      // certificate and without a client certificate; it answers only ApplyConfiguration, Version, Disks.
      const host = endpoint.host;
      session = http2Lib().connect(`https://${ipVersion(host) === 6 ? `[${host}]` : host}:${endpoint.port}`, {
        rejectUnauthorized: false,
        ...(ipVersion(host) ? { servername: "" } : { servername: host }),
      });
    } else {
      if (!tlsOptions)
        throw new ApiError(Code.UNAUTHENTICATED, `${endpoint.host}:${endpoint.port}: TCP needs a client certificate (mutual TLS); configure ca/crt/key`);
      const isIp = ipVersion(endpoint.host) !== 0;
      const host = endpoint.host;
      session = http2Lib().connect(`https://${isIp && host.includes(":") ? `[${host}]` : host}:${endpoint.port}`, {
        ca: tlsOptions.ca,
        cert: tlsOptions.cert,
        key: tlsOptions.key,
        // TLS forbids an IP address as SNI: verify the address against the certificate's IP SANs instead.
        ...(isIp ? { servername: "" } : { servername: host }),
        checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => tlsLib().checkServerIdentity(host, cert),
      });
    }
    this.sessionError = undefined;
    this.goneAway = false;
    session.on("error", (e) => {
      if (this.session === session) this.sessionError = e;
    });
    session.on("goaway", () => {
      if (this.session === session) this.goneAway = true;
    });
    // Idle streams (logs -f) must not keep a one-shot command alive.
    session.unref();
    return session;
  }

  private request(path: string, body: Uint8Array | readonly Uint8Array[] | null, opts: CallOptions): http2.ClientHttp2Stream {
    // A session the server sent away (GOAWAY), that closed, or whose connection failed (no socket
    // yet, refused, reset) takes no new streams: a new one does. The call that met the failure
    // reported it; the next one tries again, so a client made while the node boots is not stuck.
    if (this.goneAway || this.sessionError || this.session.closed || this.session.destroyed) {
      if (!this.session.destroyed) this.session.close();
      this.session = this.open();
    }
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      "user-agent": "minos-lean-client",
    };
    // A list goes out as one header field per value, as gRPC metadata does.
    for (const [k, v] of Object.entries(this.metadata)) headers[k] = typeof v === "string" ? v : [...v];
    if (opts.timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;
    const stream = this.session.request(headers);
    // null: a client-streaming call whose caller writes the messages and ends the stream (upload);
    // several bodies: a client stream known up front (EtcdRecover's upload), written in order, then half-closed.
    if (body === null) {
      // the caller writes
    } else if (Array.isArray(body)) {
      for (const b of body as readonly Uint8Array[]) stream.write(frame(b));
      stream.end();
    } else stream.end(frame(body as Uint8Array));
    return stream;
  }

  /** Runs one call; onMessage sees each reply as it arrives; resolves at an OK status. */
  private run(
    path: string,
    body: Uint8Array | readonly Uint8Array[] | null,
    opts: CallOptions,
    onMessage: (m: Uint8Array) => void,
    onStream?: (s: http2.ClientHttp2Stream) => void,
    retried = false,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.request(path, body, opts);
      } catch (e) {
        reject(e);
        return;
      }
      onStream?.(stream);
      const deframer = new Deframer();
      let status: ApiError | null | undefined;
      let settled = false;
      let responded = false;
      // grpc-timeout only asks the server to give up: a peer that accepted the
      // connection and never answers would hang the call (and, with the session
      // unref'd, leave nothing but a busy event loop). The client enforces its
      // own deadline too. This timer is ref'd on purpose: it is what keeps a
      // one-shot command alive until the answer or the deadline.
      const deadline =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (!stream.closed) stream.close(CANCEL);
              finish(new ApiError(Code.DEADLINE_EXCEEDED, `no answer from ${describe(this.endpoint)} within ${opts.timeoutMs} ms`));
            }, opts.timeoutMs);
      const finish = (err: Error | null | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      };
      stream.on("response", (headers) => {
        responded = true;
        const httpStatus = Number(headers[":status"]);
        if (httpStatus !== 200) status = new ApiError(Code.UNAVAILABLE, `HTTP ${httpStatus} from ${describe(this.endpoint)}`);
        const s = statusFrom(headers); // trailers-only reply: status in the headers
        if (s !== undefined) status = s;
      });
      stream.on("data", (chunk: Buffer) => {
        try {
          for (const m of deframer.push(chunk)) onMessage(m);
        } catch (e) {
          stream.close(CANCEL);
          finish(e as Error);
        }
      });
      stream.on("trailers", (headers) => {
        const s = statusFrom(headers);
        if (s !== undefined) status = s;
      });
      stream.on("error", (e) => {
        // The server sent GOAWAY before this stream started (it closes idle or over-cap connections, and
        // its "goaway" event may come after the stream was opened): nothing reached it, so one retry on a
        // new session is safe. An upload (body null) has already handed its stream to the caller: no retry.
        const goaway = (e as NodeJS.ErrnoException).code === "ERR_HTTP2_GOAWAY_SESSION" || /after receiving a GOAWAY/.test(e.message);
        if (goaway && !responded && !retried && body !== null && !settled) {
          settled = true;
          clearTimeout(deadline);
          this.goneAway = true;
          this.run(path, body, opts, onMessage, onStream, true).then(resolve, reject);
          return;
        }
        finish(this.sessionError ? transportError(this.sessionError, this.endpoint) : transportError(e, this.endpoint));
      });
      stream.on("close", () => {
        if (status === undefined) {
          const e =
            this.sessionError ??
            (stream.rstCode === CANCEL ? new ApiError(Code.CANCELLED, "call cancelled") : new Error(`stream closed without a status (code ${stream.rstCode})`));
          finish(e instanceof ApiError ? e : transportError(e, this.endpoint));
        } else finish(status);
      });
    });
  }

  /** A client-streaming call: every request, then one reply. */
  async clientStream(path: string, bodies: readonly Uint8Array[], opts: CallOptions = {}): Promise<Uint8Array> {
    const replies: Uint8Array[] = [];
    if (this.channel) replies.push(...(await this.h2Replies(path, bodies, opts)));
    else await this.run(path, bodies, opts, (m) => replies.push(m));
    if (replies.length !== 1) throw new ApiError(Code.INTERNAL, `${path}: expected one reply, got ${replies.length}`);
    return replies[0]!;
  }

  /**
   * A client-streaming (or bidi) call: each message is written as it comes,
   * waiting for the stream to drain (an upload never queues more than HTTP/2's
   * window), then the stream is half-closed and the replies collected.
   */
  async upload(path: string, messages: AsyncIterable<Uint8Array>, opts: CallOptions = {}): Promise<Uint8Array[]> {
    if (this.channel) return this.h2Upload(path, messages, opts);
    const replies: Uint8Array[] = [];
    let stream: http2.ClientHttp2Stream | undefined;
    let over = false;
    const done = this.run(
      path,
      null,
      opts,
      (m) => replies.push(m),
      (s) => (stream = s),
    ).finally(() => (over = true));
    const pump = (async () => {
      for await (const m of messages) {
        if (over || !stream) break;
        if (!stream.write(frame(m)))
          await new Promise<void>((r) => {
            const go = () => {
              stream!.off("drain", go);
              stream!.off("close", go);
              r();
            };
            stream!.on("drain", go);
            stream!.on("close", go);
          });
      }
      if (!over) stream?.end();
    })();
    await Promise.all([done, pump]);
    return replies;
  }

  /** upload() on the unix channel: send() resolves once a message is on the socket, within the server's windows. */
  private async h2Upload(path: string, messages: AsyncIterable<Uint8Array>, opts: CallOptions): Promise<Uint8Array[]> {
    const call = this.h2Call(path, opts);
    let over = false;
    const replies: Uint8Array[] = [];
    const collect = (async () => {
      try {
        for (let m = await call.next(); m !== undefined; m = await call.next()) replies.push(m);
        await call.done;
      } finally {
        over = true;
      }
    })();
    const pump = (async () => {
      for await (const m of messages) {
        if (over) break;
        try {
          await call.send(m);
        } catch (e) {
          if (over) break; // the call ended (its status is what collect reports)
          throw e;
        }
      }
      if (!over) call.end();
    })();
    // A pump that failed only because the call did is reported by collect (the call's status).
    pump.catch(() => {});
    await collect;
    await pump;
    return replies;
  }

  async unary(path: string, body: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    const replies: Uint8Array[] = [];
    if (this.channel) replies.push(...(await this.h2Replies(path, [body], opts)));
    else await this.run(path, body, opts, (m) => replies.push(m));
    if (replies.length !== 1) throw new ApiError(Code.INTERNAL, `${path}: expected one reply, got ${replies.length}`);
    return replies[0]!;
  }

  serverStream(path: string, body: Uint8Array, opts: CallOptions = {}): MessageStream {
    if (this.channel) {
      const call = this.h2Call(path, opts);
      call.send(body).then(
        () => call.end(),
        () => {}, // the call's failure is what iterating reports
      );
      return { cancel: () => call.cancel(), [Symbol.asyncIterator]: () => call[Symbol.asyncIterator]() };
    }
    const queue: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    let failure: Error | undefined;
    let stream: http2.ClientHttp2Stream | undefined;
    let cancelled = false;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    this.run(
      path,
      body,
      opts,
      (m) => {
        queue.push(m);
        notify();
      },
      (s) => (stream = s),
    ).then(
      () => {
        ended = true;
        notify();
      },
      (e: Error) => {
        ended = true;
        if (!cancelled) failure = e;
        notify();
      },
    );
    const cancel = () => {
      cancelled = true;
      if (stream && !stream.closed) stream.close(CANCEL);
      ended = true;
      notify();
    };
    return {
      cancel,
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            if (queue.length) yield queue.shift()!;
            else if (failure) throw failure;
            else if (ended) return;
            else await new Promise<void>((r) => (wake = r));
          }
        } finally {
          if (!ended) cancel();
        }
      },
    };
  }

  close(): void {
    if (this.channel) this.channel.close();
    else if (!this.session.closed && !this.session.destroyed) this.session.close();
  }
}

function describe(e: Endpoint): string {
  return e.kind === "unix" ? `unix:${e.path}` : `${e.host}:${e.port}`;
}

/** Connection-level failures as UNAVAILABLE with one clear line (ENOENT, ECONNREFUSED, TLS alerts): the unix channel's wording. */
function transportError(e: Error, endpoint: Endpoint): ApiError {
  return channelError(e, describe(endpoint), NODE_HINTS);
}
