// Our HTTP/2 connections (connection.ts) on Bun's own sockets (Bun.listen):
// a unix socket for the node, TCP with mutual TLS for the network. Bun.listen
// is native (usockets and BoringSSL) with a thin JS layer, where node:net and
// node:tls are JS stream machinery over it; that layer is the memory and the
// per-write cost PID 1 saves. TLS offers only "h2" by ALPN, as gRPC clients ask.
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import { CONNECTION_DEFAULTS, H2Connection, type ConnectionSettings } from "./connection.ts";

export interface ListenerTls {
  ca?: string;
  cert: string;
  key: string;
  /** Ask for, and require, a client certificate signed by `ca`. */
  requestCert: boolean;
}

export interface ListenerEvents {
  /** A connection was accepted (before its TLS handshake); destroying it here refuses it. */
  accepted?(c: H2Connection): void;
  /** Its HTTP/2 session starts: at once on cleartext, after the handshake on TLS. */
  started(c: H2Connection): void;
}

/** ALPN's wire form (a length-prefixed list): only HTTP/2. */
const ALPN_H2 = "\x02h2";

type Held = { conn: H2Connection | undefined };

export class H2Listener {
  private server: TCPSocketListener<Held> | UnixSocketListener<Held> | undefined;

  constructor(
    private readonly events: ListenerEvents,
    private readonly tls?: ListenerTls,
    private readonly settings: ConnectionSettings = CONNECTION_DEFAULTS,
  ) {}

  /** Listens on a unix socket path or a TCP host:port; returns the TCP port bound (0 for a socket). */
  listen(address: { path: string } | { host: string; port: number }): number {
    const secure = Boolean(this.tls);
    const wireOf = (s: Socket<Held>) => ({
      write: (b: Uint8Array) => s.write(b),
      end: () => s.end(),
      terminate: () => s.terminate(),
    });
    const socket = {
      open: (s: Socket<Held>) => {
        const c = new H2Connection(wireOf(s), this.settings);
        s.data = { conn: c };
        this.events.accepted?.(c);
        if (c.destroyed || secure) return;
        c.start();
        this.events.started(c);
      },
      handshake: (s: Socket<Held>, ok: boolean) => {
        const c = s.data?.conn;
        if (!c || c.destroyed) return;
        if (!ok && this.tls?.requestCert) return c.destroy();
        if (this.tls?.requestCert) {
          const subject = s.getPeerCertificate()?.subject as Record<string, string | string[]> | undefined;
          c.peer = subject && Object.keys(subject).length ? subject : undefined;
          if (!c.peer) return c.destroy();
        }
        c.start();
        this.events.started(c);
      },
      data: (s: Socket<Held>, d: Buffer) => s.data?.conn?.receive(d),
      drain: (s: Socket<Held>) => s.data?.conn?.drain(),
      close: (s: Socket<Held>) => s.data?.conn?.socketClosed(),
      // The peer's FIN: HTTP/2 has nothing half-open to finish.
      end: (s: Socket<Held>) => s.data?.conn?.destroy(),
      error: () => {}, // close follows; a bad peer must never throw in PID 1
    };
    if ("path" in address) {
      this.server = Bun.listen<Held>({ unix: address.path, socket, data: { conn: undefined } });
      return 0;
    }
    const tls = this.tls
      ? {
          ca: this.tls.ca,
          cert: this.tls.cert,
          key: this.tls.key,
          requestCert: this.tls.requestCert,
          rejectUnauthorized: this.tls.requestCert,
          ALPNProtocols: ALPN_H2,
        }
      : undefined;
    const server = Bun.listen<Held>({ hostname: address.host, port: address.port, tls, socket, data: { conn: undefined } });
    this.server = server;
    return server.port;
  }

  /** Stops accepting; open connections stay (the server closes them). */
  close(): void {
    this.server?.stop(false);
    this.server = undefined;
  }
}
