// Connections to the machine API: a deep listen queue (a burst of connects
// is queued, not refused), a cap on open connections, and a deadline for the
// first request: a connection that has not opened a single stream within a
// few seconds (silent, or an HTTP/2 preface and nothing more) is closed, so
// idle sockets cannot pile up file descriptors in PID 1.
//
// grpc-js binds its own node:http2 servers and exposes neither the backlog
// nor its sessions; both are reached through its (private, JS-visible)
// createHttp2Server, which bindAsync calls once per address and which listens
// with the address object it is given. test/unit/api/connections.test.ts
// fails if a grpc-js upgrade changes that.
import type * as grpc from "@grpc/grpc-js";
import { listeningTcpFd, listeningUnixFd, relisten } from "../sys/listen.ts";

export interface ConnectionLimits {
  /** listen(2) backlog (the kernel caps it at net.core.somaxconn). */
  backlog: number;
  /** Open connections across the node socket and the TLS listener; past it a new one is closed at once. */
  max: number;
  /** A connection that opened no stream within this long is closed. */
  firstRequestMs: number;
}

export const CONNECTION_LIMITS: ConnectionLimits = { backlog: 4096, max: 1024, firstRequestMs: 5000 };

/** The parts of node:http2 sessions and servers used here. */
interface Session {
  readonly destroyed: boolean;
  destroy(): void;
  once(event: "close", fn: () => void): unknown;
}
interface H2Server {
  listen(address: object, cb: () => void): unknown;
  on(event: "connection" | "secureConnection", fn: (socket: Session) => void): unknown;
  on(event: "session", fn: (s: Session) => void): unknown;
  on(event: "stream", fn: (stream: { session?: Session }) => void): unknown;
}

/** Counts and polices connections for one PID 1 (shared by its servers). */
export class ConnectionGuard {
  open = 0;
  /** Listening sockets whose backlog was set (tests read it). */
  raisedBacklogs = 0;
  /** Connections closed for being over `max`, and for sending no request in time (tests read them). */
  refused = 0;
  closedIdle = 0;
  private readonly waiting = new WeakMap<Session, ReturnType<typeof setTimeout>>();
  private readonly secured = new WeakSet<Session>();

  constructor(readonly limits: ConnectionLimits = CONNECTION_LIMITS) {}

  /** Makes `server`'s future binds use the backlog and report their sessions here. Call before bindAsync. */
  watch(server: grpc.Server): void {
    const s = server as unknown as { createHttp2Server?: (creds: unknown) => H2Server };
    const create = s.createHttp2Server;
    if (typeof create !== "function") throw new Error("grpc-js has no createHttp2Server: connection limits cannot be applied");
    s.createHttp2Server = (creds) => {
      const h2 = create.call(server, creds);
      const secure = (creds as { _isSecure?: () => boolean })._isSecure?.() === true;
      const listen = h2.listen.bind(h2);
      h2.listen = (address: object, cb: () => void) =>
        listen({ ...address, backlog: this.limits.backlog }, () => {
          // Bun listens with 512 whatever it is asked: set the backlog on the socket itself.
          const path = (address as { path?: string }).path;
          const port = (h2 as unknown as { address(): { port?: number } | string | null }).address();
          const fd = path ? listeningUnixFd(path) : typeof port === "object" && port?.port ? listeningTcpFd(port.port) : undefined;
          if (fd !== undefined) {
            relisten(fd, this.limits.backlog);
            this.raisedBacklogs++;
          }
          cb();
        });
      h2.on("connection", (socket) => this.admit(socket, secure));
      if (secure) h2.on("secureConnection", (socket) => this.secured.add(socket));
      h2.on("session", (session) => this.awaitRequest(session));
      h2.on("stream", (stream) => this.requested(stream.session));
      return h2;
    };
  }

  /**
   * Every accepted socket counts, from accept to close, so the cap holds
   * whatever state the connection is in; a TLS connection must also finish
   * its handshake within firstRequestMs (its HTTP/2 session, and so the
   * first-request deadline, only starts after it).
   */
  private admit(socket: Session, secure: boolean): void {
    this.open++;
    socket.once("close", () => this.open--);
    if (this.open > this.limits.max) {
      this.refused++;
      socket.destroy();
      return;
    }
    if (!secure) return;
    const timer = setTimeout(() => {
      if (socket.destroyed || this.secured.has(socket)) return;
      this.closedIdle++;
      socket.destroy();
    }, this.limits.firstRequestMs);
    socket.once("close", () => clearTimeout(timer));
  }

  /** The session must open a stream within firstRequestMs. */
  private awaitRequest(session: Session): void {
    session.once("close", () => clearTimeout(this.waiting.get(session)));
    this.waiting.set(
      session,
      setTimeout(() => {
        if (session.destroyed) return;
        this.closedIdle++;
        session.destroy();
      }, this.limits.firstRequestMs),
    );
  }

  private requested(session: Session | undefined): void {
    if (!session) return;
    const t = this.waiting.get(session);
    if (t === undefined) return;
    clearTimeout(t);
    this.waiting.delete(session);
  }
}
