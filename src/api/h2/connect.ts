// A client HTTP/2 connection (connection.ts in its client role) on a unix
// socket through Bun.connect: PID 1's containerd client, without node:net and
// node:http2 (src/lib/node-libs.ts says what they cost).
import type { Socket } from "bun";
import { CONNECTION_DEFAULTS, H2Connection, type ConnectionSettings } from "./connection.ts";

type Held = { conn: H2Connection | undefined };

/**
 * Connects to a unix socket and sends the preface; resolves once connected. Errors carry the errno code (ENOENT, ECONNREFUSED).
 * unref: the socket does not keep the event loop alive.
 */
export function connectUnix(path: string, settings: ConnectionSettings = CONNECTION_DEFAULTS, unref = false): Promise<H2Connection> {
  return new Promise<H2Connection>((resolve, reject) => {
    Bun.connect<Held>({
      unix: path,
      data: { conn: undefined },
      socket: {
        open(s: Socket<Held>) {
          const c = new H2Connection({ write: (b) => s.write(b), end: () => s.end(), terminate: () => s.terminate() }, settings, "client");
          s.data = { conn: c };
          // An idle connection must not keep a one-shot command alive; its calls' deadline timers do.
          if (unref) s.unref();
          c.start();
          resolve(c);
        },
        data: (s: Socket<Held>, d: Buffer) => s.data?.conn?.receive(d),
        drain: (s: Socket<Held>) => s.data?.conn?.drain(),
        close: (s: Socket<Held>) => s.data?.conn?.socketClosed(),
        end: (s: Socket<Held>) => s.data?.conn?.destroy(),
        error: () => {}, // close follows
        connectError: (_s: Socket<Held>, e: Error) => reject(e),
      },
    }).catch(reject);
  });
}
