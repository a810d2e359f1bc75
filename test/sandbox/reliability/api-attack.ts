// Attack clients for the reliability tests, written at the HTTP/2 frame level
// so they do exactly what a hostile peer does: open gRPC streams and then never
// read a byte (the socket is paused, so the kernel buffers fill and the server
// must hold or drop what it wants to send), connect and say nothing, or send
// only the HTTP/2 preface.
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import {
  ACK,
  DATA,
  DEFAULT_WINDOW,
  END_HEADERS,
  END_STREAM,
  HEADERS,
  MAX_WINDOW,
  PREFACE,
  SETTINGS,
  SETTINGS_INITIAL_WINDOW_SIZE,
  frameOf,
  settingsFrame,
  windowUpdateFrame,
} from "../../../src/api/h2/frames.ts";
import { encodeHeaders } from "../../../src/api/h2/hpack.ts";
import { encode } from "../../../src/api/schema.ts";

/** The frames of one gRPC call: HEADERS then one DATA frame carrying the request, half-closed. */
export function grpcCallFrames(streamId: number, path: string, requestType: string, request: object): Buffer {
  const body = Buffer.from(encode(requestType, request));
  const msg = Buffer.alloc(5 + body.length);
  msg.writeUInt32BE(body.length, 1);
  body.copy(msg, 5);
  const block = encodeHeaders([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  return Buffer.concat([frameOf(HEADERS, END_HEADERS, streamId, block), frameOf(DATA, END_STREAM, streamId, msg)]);
}

/**
 * The connection's opening: the preface, SETTINGS that grant the server the
 * largest stream and connection windows (so HTTP/2 flow control holds nothing
 * back: only the server's own limits can), and an ACK of the server's SETTINGS
 * sent blind (a client that never reads cannot see them).
 */
export function openingFrames(): Buffer {
  return Buffer.concat([
    PREFACE,
    settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW]]),
    windowUpdateFrame(0, MAX_WINDOW - DEFAULT_WINDOW),
    frameOf(SETTINGS, ACK, 0),
  ]);
}

export interface Call {
  path: string;
  requestType: string;
  request: object;
}

export type Dial = () => net.Socket;

export const unixDial =
  (path: string): Dial =>
  () =>
    net.connect(path);

export const tlsDial =
  (host: string, port: number, creds: { ca: string; cert: string; key: string }): Dial =>
  () =>
    tls.connect({ host, port, ca: creds.ca, cert: creds.cert, key: creds.key, ALPNProtocols: ["h2"], servername: "localhost" });

/**
 * Opens `connections` connections with `streamsEach` calls on each, then never
 * reads. Resolves once every connection is open and its frames are written
 * (or failed). kill() destroys them all, as a killed client would.
 */
export async function neverReadingClients(
  dial: Dial,
  connections: number,
  streamsEach: number,
  calls: Call[],
): Promise<{ sockets: net.Socket[]; failed: number; kill(): void }> {
  const sockets: net.Socket[] = [];
  let failed = 0;
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, () => {
      return new Promise<void>((resolve) => {
        const s = dial();
        sockets.push(s);
        let settled = false;
        const done = () => {
          if (!settled) {
            settled = true;
            resolve();
          }
        };
        s.on("error", () => {
          failed++;
          done();
        });
        s.on("close", done);
        s.once(s instanceof tls.TLSSocket ? "secureConnect" : "connect", () => {
          const frames = [openingFrames()];
          for (let i = 0; i < streamsEach; i++) {
            const c = calls[n++ % calls.length]!;
            frames.push(grpcCallFrames(1 + 2 * i, c.path, c.requestType, c.request));
          }
          s.write(Buffer.concat(frames), () => {
            s.pause(); // never read: the kernel buffers fill and stay full
            done();
          });
        });
      });
    }),
  );
  return {
    sockets,
    failed,
    kill() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** VmRSS of a host process, in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Open file descriptors of a host process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
