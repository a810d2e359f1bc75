// Connections to the machine API: a deep listen queue (a burst of connects
// is queued, not refused), a cap on open connections, and a deadline for the
// first request: a connection that has not opened a single stream within a
// few seconds (silent, or an HTTP/2 preface and nothing more) is closed, so
// idle sockets cannot pile up file descriptors in PID 1.
//
// The guard is the machine API servers' ConnectionWatcher (grpc-server.ts)
// and knows the addresses they listen on.
import type { ConnectionWatcher } from "./grpc-server.ts";
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

/** The parts of a connection used here. */
interface Closable {
  readonly destroyed: boolean;
  destroy(): void;
  onClose(fn: () => void): void;
}

/** Counts and polices connections for one PID 1 (shared by its servers). */
export class ConnectionGuard implements ConnectionWatcher {
  open = 0;
  /** Listening sockets whose backlog was set (tests read it). */
  raisedBacklogs = 0;
  /** Connections closed for being over `max`, and for sending no request in time (tests read them). */
  refused = 0;
  closedIdle = 0;
  private readonly waiting = new WeakMap<Closable, ReturnType<typeof setTimeout>>();
  private readonly secured = new WeakSet<Closable>();

  constructor(readonly limits: ConnectionLimits = CONNECTION_LIMITS) {}

  /** Bun listens with 512 whatever it is asked: sets the backlog on the listening socket itself. */
  raiseBacklog(address: { path: string } | { port: number }): void {
    const fd = "path" in address ? listeningUnixFd(address.path) : listeningTcpFd(address.port);
    if (fd === undefined) return;
    relisten(fd, this.limits.backlog);
    this.raisedBacklogs++;
  }

  /**
   * Every accepted socket counts, from accept to close, so the cap holds
   * whatever state the connection is in; a TLS connection must also finish
   * its handshake within firstRequestMs (its HTTP/2 session, and so the
   * first-request deadline, only starts after it).
   */
  accepted(socket: Closable, secure: boolean): void {
    this.open++;
    socket.onClose(() => this.open--);
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
    socket.onClose(() => clearTimeout(timer));
  }

  /** The session must open a stream within firstRequestMs. */
  started(session: Closable): void {
    this.secured.add(session);
    session.onClose(() => clearTimeout(this.waiting.get(session)));
    this.waiting.set(
      session,
      setTimeout(() => {
        if (session.destroyed) return;
        this.closedIdle++;
        session.destroy();
      }, this.limits.firstRequestMs),
    );
  }

  streamOpened(session: Closable): void {
    const t = this.waiting.get(session);
    if (t === undefined) return;
    clearTimeout(t);
    this.waiting.delete(session);
  }
}
