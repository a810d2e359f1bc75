// Attack clients for the reliability tests, written at the HTTP/2 frame level
// so they do exactly what a hostile peer does: open gRPC streams and then never
// read a byte (the socket is paused, so the kernel buffers fill and the server
// must hold or drop what it wants to send), connect and say nothing, or send
// only the HTTP/2 preface.
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { encode } from "../../../src/api/schema.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const MAX_WINDOW = 0x7fffffff;

function h2frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK string with a 7-bit length prefix, no Huffman coding. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s);
  const len: number[] = [];
  if (bytes.length < 127) len.push(bytes.length);
  else {
    len.push(127);
    let n = bytes.length - 127;
    while (n >= 128) {
      len.push((n & 0x7f) | 0x80);
      n >>= 7;
    }
    len.push(n);
  }
  return Buffer.concat([Buffer.from(len), bytes]);
}

/** A header block of literals without indexing (new names): valid HPACK, no state to track. */
function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(headers.map(([k, v]) => Buffer.concat([Buffer.from([0]), hpackString(k), hpackString(v)])));
}

function settings(entries: [number, number][]): Buffer {
  const b = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(value, i * 6 + 2);
  });
  return h2frame(4, 0, 0, b);
}

/** The frames of one gRPC call: HEADERS then one DATA frame carrying the request, half-closed. */
export function grpcCallFrames(streamId: number, path: string, requestType: string, request: object): Buffer {
  const body = Buffer.from(encode(requestType, request));
  const msg = Buffer.alloc(5 + body.length);
  msg.writeUInt32BE(body.length, 1);
  body.copy(msg, 5);
  const block = headerBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  return Buffer.concat([h2frame(1, 0x4, streamId, block), h2frame(0, 0x1, streamId, msg)]);
}

/**
 * The connection's opening: the preface, SETTINGS that grant the server the
 * largest stream and connection windows (so HTTP/2 flow control holds nothing
 * back: only the server's own limits can), and an ACK of the server's SETTINGS
 * sent blind (a client that never reads cannot see them).
 */
export function openingFrames(): Buffer {
  const windowUpdate = Buffer.alloc(4);
  windowUpdate.writeUInt32BE(MAX_WINDOW - 65535);
  return Buffer.concat([PREFACE, settings([[4, MAX_WINDOW]]), h2frame(8, 0, 0, windowUpdate), h2frame(4, 0x1, 0, Buffer.alloc(0))]);
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
