// Writing a blob into containerd's content store over the Write session
// protocol: STAT opens the session for a ref, WRITEs append at the current
// offset, COMMIT names the expected size and digest and containerd refuses
// the blob unless both match. On any failure the session's partial data (the
// "ingest") is aborted, so nothing half-written stays behind or stays leased.
import { ApiError } from "./grpc.ts";
import { Code } from "../api/status.ts";
import { isDigest } from "./digest.ts";
import type { NamespaceClient } from "./namespaced.ts";

/**
 * Bytes per WRITE, and at most this many bytes sent but not yet answered.
 * Bun 1.4's node:http2 client strands request DATA that waits for
 * flow-control window when the peer raises SETTINGS_INITIAL_WINDOW_SIZE
 * meanwhile (grpc-go's BDP estimator does so several times during a large
 * upload; oven-sh/bun#30319): the stream never drains again. Data that fits
 * the window is sent at once and never waits, and grpc-go's stream window is
 * at least 64 KiB minus the quarter it may still owe us after a reply: so the
 * upload is paced by containerd's replies to stay under 32 KiB in flight.
 * The same holds for the connection's window, so each upload gets a
 * connection of its own (parallel uploads on one connection did stall).
 */
export const WRITE_CHUNK_BYTES = 16 * 1024;
export const MAX_IN_FLIGHT_BYTES = 32 * 1024;

export interface WriteBlobOptions {
  /** Labels stored with the blob (e.g. containerd.io/gc.ref.* or distribution source). */
  labels?: Record<string, string>;
  /** Bytes per WRITE message (default and most: see WRITE_CHUNK_BYTES): small input chunks are coalesced up to it. */
  chunkBytes?: number;
}

export interface WrittenBlob {
  digest: string;
  size: number;
  /** The store already held this digest: nothing was written. */
  existed: boolean;
}

/** Re-cuts a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    if (pendingBytes === 0 && chunk.length === size) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < size) continue;
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    let at = 0;
    for (; all.length - at >= size; at += size) yield all.subarray(at, at + size);
    pending = at < all.length ? [all.subarray(at)] : [];
    pendingBytes = all.length - at;
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
}

function isCode(e: unknown, code: number): boolean {
  return e instanceof ApiError && e.code === code;
}

/**
 * Streams `chunks` into the content store of `ns` under write session `ref`
 * and commits it as `expectedDigest`/`size`. A digest or size mismatch is
 * refused by containerd at commit (FAILED_PRECONDITION); a longer input is
 * refused here before anything is committed (INVALID_ARGUMENT). Either way the
 * ingest is aborted and the error thrown. A digest the store already holds is
 * not rewritten (existed: true). Write through a leased client
 * (ns.withLease) until an image or another blob's gc.ref label refers to the
 * blob: containerd's garbage collector removes unreferenced content.
 */
export async function writeBlob(
  ns: NamespaceClient,
  ref: string,
  expectedDigest: string,
  size: number,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: WriteBlobOptions = {},
): Promise<WrittenBlob> {
  if (!ref) throw new ApiError(Code.INVALID_ARGUMENT, "writeBlob: empty ref");
  if (!isDigest(expectedDigest)) throw new ApiError(Code.INVALID_ARGUMENT, `writeBlob: "${expectedDigest}" is not a sha256 digest`);
  if (!Number.isSafeInteger(size) || size < 0) throw new ApiError(Code.INVALID_ARGUMENT, `writeBlob: bad size ${size}`);
  const own = ns.ownConnection();
  try {
    return await writeSession(own.client, ref, expectedDigest, size, chunks, opts);
  } finally {
    own.close();
  }
}

async function writeSession(
  ns: NamespaceClient,
  ref: string,
  expectedDigest: string,
  size: number,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: WriteBlobOptions,
): Promise<WrittenBlob> {
  const chunkBytes = Math.min(opts.chunkBytes ?? WRITE_CHUNK_BYTES, MAX_IN_FLIGHT_BYTES);
  const maxInFlight = MAX_IN_FLIGHT_BYTES;
  const w = ns.duplex("containerd.services.content.v1.Content", "Write");
  try {
    await w.send({ action: "STAT", ref, total: size, expected: expectedDigest });
    // The server answers every request in order; the COMMIT reply is the last.
    const first = await w.next();
    if (!first) throw new ApiError(Code.INTERNAL, "content Write: no reply to STAT");
    const unanswered: number[] = [];
    let inFlight = 0;
    const answer = async () => {
      const r = await w.next();
      if (!r) throw new ApiError(Code.INTERNAL, `content Write ${ref}: the session ended early`);
      inFlight -= unanswered.shift() ?? 0;
      return r;
    };
    let offset = 0;
    for await (const data of rechunk(chunks, chunkBytes)) {
      if (offset + data.length > size) throw new ApiError(Code.INVALID_ARGUMENT, `writeBlob ${ref}: input is longer than the declared ${size} bytes`);
      while (unanswered.length && inFlight + data.length > maxInFlight) await answer();
      // offset 0 on the first write also truncates what an earlier, broken session left under this ref.
      await w.send({ action: "WRITE", offset, data });
      unanswered.push(data.length);
      inFlight += data.length;
      offset += data.length;
    }
    while (unanswered.length) await answer();
    await w.send({ action: "COMMIT", total: size, expected: expectedDigest, offset, labels: opts.labels ?? {} });
    w.end();
    const commit = await w.next();
    await w.done;
    if (!commit) throw new ApiError(Code.INTERNAL, `content Write ${ref}: the session ended without a commit reply`);
    if (commit.digest !== expectedDigest) throw new ApiError(Code.DATA_LOSS, `content Write ${ref}: committed ${commit.digest}, wanted ${expectedDigest}`);
    return { digest: expectedDigest, size: offset, existed: false };
  } catch (e) {
    await closeSession(w);
    if (isCode(e, Code.ALREADY_EXISTS)) {
      const info = await ns.content.info(expectedDigest);
      if (info.size === size) return { digest: expectedDigest, size, existed: true };
      throw new ApiError(Code.FAILED_PRECONDITION, `content ${expectedDigest} exists with size ${info.size}, not ${size}`);
    }
    await abortIngest(ns, ref, e as Error);
    throw e;
  }
}

/**
 * Ends a session that failed on our side by half-closing it: the server then
 * sees end-of-stream, closes its writer and answers, and only after that can
 * the ingest be aborted (while the writer is open its directory is busy).
 */
async function closeSession(w: { end(): void; cancel(): void; done: Promise<void> }): Promise<void> {
  w.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    w.done.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000))),
  ]);
  clearTimeout(timer);
  if (!settled) w.cancel();
}

async function abortIngest(ns: NamespaceClient, ref: string, cause: Error): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await ns.content.abort(ref);
      return;
    } catch (abortErr) {
      if (isCode(abortErr, Code.NOT_FOUND)) return;
      // A cancelled session's writer may still be closing on the server: retry briefly.
      if (attempt >= 20) throw new ApiError(Code.INTERNAL, `${cause.message}; and aborting ingest ${ref} failed: ${(abortErr as Error).message}`);
      await Bun.sleep(100);
    }
  }
}
