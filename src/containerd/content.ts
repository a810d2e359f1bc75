// Writing a blob into containerd's content store over the Write session
// protocol: STAT opens the session for a ref, WRITEs append at the current
// offset, COMMIT names the expected size and digest and containerd refuses
// the blob unless both match. On any failure the session's partial data (the
// "ingest") is aborted, so nothing half-written stays behind or stays leased.
//
// Large blobs (above SHARED_CONNECTION_MAX_BYTES) send their bytes over
// h2upload.ts, an HTTP/2 stream of our own with 1 MiB WRITEs, and commit over
// node:http2; small ones, and every blob when MINOS_NODE_HTTP2_UPLOADS=1
// (kept to compare), go through node:http2 alone, sized to the window as
// below.
import { ApiError } from "./grpc.ts";
import { Code } from "../api/status.ts";
import { isDigest } from "./digest.ts";
import { RawUpload, UploadError } from "./h2upload.ts";
import type { Duplex, NamespaceClient } from "./namespaced.ts";
import { encode, methodInfo, type Req, type Res } from "./schema.ts";

const WRITE_REQUEST = "containerd.services.content.v1.WriteContentRequest";

/**
 * How much of an upload may be unanswered. Bun 1.4's node:http2 client
 * strands request DATA that waits for flow-control window when the peer
 * raises SETTINGS_INITIAL_WINDOW_SIZE meanwhile (grpc-go's BDP estimator does
 * so several times during a large upload; oven-sh/bun#30319): the stream
 * never drains again. Data that fits the window is sent at once and never
 * waits, so an upload only sends what the window is sure to hold: grpc-go
 * returns a message's window as soon as it reads the message (holding back
 * less than a quarter of the window), and answers each WRITE after reading
 * it, so with W the peer's current initial window at most 3/4 W (framing
 * counted) is ever unanswered. W is read from the connection's SETTINGS as
 * the estimator raises it (65535 at first, 100-200 KiB within milliseconds on
 * a unix socket). The connection's window is returned on receipt, so it binds
 * less; each upload still gets a connection of its own, as parallel uploads
 * on a shared one share that window (and did stall).
 */
export const WINDOW_SHARE = 0.75;
/** Bytes a WRITE message adds to its data on the wire: gRPC's 5-byte prefix, the action, offset and data field headers. */
export const WRITE_OVERHEAD_BYTES = 32;
/** Most data bytes per WRITE (containerd's limit is 16 MiB; ctr writes 1 MiB). */
export const WRITE_CHUNK_BYTES = 1 << 20;
/**
 * Blobs up to this size are written over the client's shared connection:
 * one WRITE, far inside HTTP/2's initial 64 KiB window even with a few of
 * them at once, so nothing of theirs waits for window.
 */
export const SHARED_CONNECTION_MAX_BYTES = 16 * 1024;
/** Unanswered WRITEs are kept to about this many, so replies return window while more is sent. */
const WRITES_PER_WINDOW = 2;

export interface WriteBlobOptions {
  /** Labels stored with the blob (e.g. containerd.io/gc.ref.* or distribution source). */
  labels?: Record<string, string>;
  /** Most data bytes per WRITE message (default WRITE_CHUNK_BYTES); small input chunks are coalesced. Each is also kept within the window (see WINDOW_SHARE). */
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
  // A blob that fits one small WRITE (a manifest, a config) never waits for window: it needs no connection of its own.
  if (size <= SHARED_CONNECTION_MAX_BYTES) return writeSession(ns, ref, expectedDigest, size, chunks, opts);
  if (RAW_UPLOADS) return rawWriteSession(ns, ref, expectedDigest, size, chunks, opts);
  const own = ns.ownConnection();
  try {
    return await writeSession(own.client, ref, expectedDigest, size, chunks, opts);
  } finally {
    own.close();
  }
}

/** Large blobs go through h2upload.ts (1 MiB WRITEs, our own flow control); false: node:http2, window-sized WRITEs. */
const RAW_UPLOADS = process.env.MINOS_NODE_HTTP2_UPLOADS !== "1";
/** Most bytes per WRITE on our own connection (ctr's size; containerd accepts up to 16 MiB). */
const RAW_WRITE_BYTES = 1 << 20;
/** containerd ends an upload stream promptly once we end ours; longer means it is stuck. */
const RAW_FINISH_TIMEOUT_MS = 30_000;

/**
 * The bytes over h2upload.ts, then the verdict over node:http2: a STAT on the
 * same ref says how much containerd holds, and a COMMIT checks size and
 * digest. Input that fails (the registry's verifier, too many bytes) aborts
 * the ingest; a stream containerd ended early leaves the verdict (and its
 * message) to the commit session.
 */
async function rawWriteSession(
  ns: NamespaceClient,
  ref: string,
  expectedDigest: string,
  size: number,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: WriteBlobOptions,
): Promise<WrittenBlob> {
  const most = Math.max(1, Math.min(opts.chunkBytes ?? RAW_WRITE_BYTES, RAW_WRITE_BYTES));
  const up = new RawUpload(ns.socketPath, methodInfo("containerd.services.content.v1.Content", "Write").path, ns.metadata());
  let offset = 0;
  let cut: Error | undefined;
  try {
    await up.send(encode(WRITE_REQUEST, { action: "STAT", ref, total: size, expected: expectedDigest }));
    for await (const { parts, bytes } of pieceLists(chunks, most)) {
      if (offset + bytes > size) throw new ApiError(Code.INVALID_ARGUMENT, `writeBlob ${ref}: input is longer than the declared ${size} bytes`);
      // offset 0 on the first write also truncates what an earlier, broken session left under this ref.
      await up.sendParts([writeRequestHead(offset, bytes), ...parts]);
      offset += bytes;
    }
    await up.finish(RAW_FINISH_TIMEOUT_MS);
  } catch (e) {
    up.cancel();
    if (!(e instanceof UploadError)) {
      await abortIngest(ns, ref, e as Error);
      throw e;
    }
    cut = e;
  }
  return commitUploaded(ns, ref, expectedDigest, size, offset, opts, cut);
}

/**
 * STAT (how much is there) and COMMIT of an ingest written by rawWriteSession,
 * over node:http2. Less than was sent means the upload stream lost bytes
 * (UNAVAILABLE); a wrong size or digest of what was sent is containerd's to
 * refuse at COMMIT.
 */
async function commitUploaded(
  ns: NamespaceClient,
  ref: string,
  expectedDigest: string,
  size: number,
  sent: number,
  opts: WriteBlobOptions,
  cut: Error | undefined,
): Promise<WrittenBlob> {
  const w = ns.duplex("containerd.services.content.v1.Content", "Write");
  try {
    await w.send({ action: "STAT", ref, total: size, expected: expectedDigest });
    const st = await w.next();
    if (!st) throw new ApiError(Code.INTERNAL, `content Write ${ref}: no reply to STAT`);
    if (st.offset !== sent)
      throw new ApiError(Code.UNAVAILABLE, `content Write ${ref}: containerd holds ${st.offset} of the ${sent} bytes sent${cut ? ` (${cut.message})` : ""}`);
    return await commitWrite(w, ref, expectedDigest, size, sent, opts);
  } catch (e) {
    return await afterFailedWrite(ns, w, ref, expectedDigest, size, e);
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
  const most = Math.max(1, Math.min(opts.chunkBytes ?? WRITE_CHUNK_BYTES, WRITE_CHUNK_BYTES));
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
    const budget = () => Math.floor(w.peerInitialWindow() * WINDOW_SHARE);
    // Sized as the window is now: a few WRITEs per window, and never one that could not fit it.
    const nextSize = () => Math.max(1, Math.min(most, Math.floor(budget() / WRITES_PER_WINDOW) - WRITE_OVERHEAD_BYTES));
    let offset = 0;
    for await (const data of pieces(chunks, nextSize)) {
      if (offset + data.length > size) throw new ApiError(Code.INVALID_ARGUMENT, `writeBlob ${ref}: input is longer than the declared ${size} bytes`);
      const cost = data.length + WRITE_OVERHEAD_BYTES;
      while (unanswered.length && inFlight + cost > budget()) await answer();
      // offset 0 on the first write also truncates what an earlier, broken session left under this ref.
      await w.sendFramed(writeRequestFrame(offset, data));
      unanswered.push(cost);
      inFlight += cost;
      offset += data.length;
    }
    while (unanswered.length) await answer();
    return await commitWrite(w, ref, expectedDigest, size, offset, opts);
  } catch (e) {
    return await afterFailedWrite(ns, w, ref, expectedDigest, size, e);
  }
}

const CONTENT = "containerd.services.content.v1.Content";
type WriteDuplex = Duplex<Req<typeof CONTENT, "Write">, Res<typeof CONTENT, "Write">>;

/** COMMIT of the `written` bytes (containerd refuses a wrong size or digest), then its reply checked. */
async function commitWrite(w: WriteDuplex, ref: string, expectedDigest: string, size: number, written: number, opts: WriteBlobOptions): Promise<WrittenBlob> {
  await w.send({ action: "COMMIT", total: size, expected: expectedDigest, offset: written, labels: opts.labels ?? {} });
  w.end();
  const commit = await w.next();
  await w.done;
  if (!commit) throw new ApiError(Code.INTERNAL, `content Write ${ref}: the session ended without a commit reply`);
  if (commit.digest !== expectedDigest) throw new ApiError(Code.DATA_LOSS, `content Write ${ref}: committed ${commit.digest}, wanted ${expectedDigest}`);
  return { digest: expectedDigest, size: written, existed: false };
}

/**
 * A Write session that failed: ALREADY_EXISTS with the expected size is a
 * blob someone else stored meanwhile (success); anything else aborts the
 * ingest, so nothing half-written stays, and is thrown on.
 */
async function afterFailedWrite(ns: NamespaceClient, w: WriteDuplex, ref: string, expectedDigest: string, size: number, e: unknown): Promise<WrittenBlob> {
  await closeSession(w);
  if (isCode(e, Code.ALREADY_EXISTS)) {
    const info = await ns.content.info(expectedDigest);
    if (info.size === size) return { digest: expectedDigest, size, existed: true };
    throw new ApiError(Code.FAILED_PRECONDITION, `content ${expectedDigest} exists with size ${info.size}, not ${size}`);
  }
  await abortIngest(ns, ref, e as Error);
  throw e;
}

/**
 * A gRPC-framed WriteContentRequest {action: WRITE, offset, data}, encoded
 * here (fields 1, 5 and 6 of containerd's content.proto) so that the data is
 * copied once, straight into the frame; the generic encoder and framing copy
 * it twice, and an upload's CPU is mostly such copies.
 */
export function writeRequestFrame(offset: number, data: Uint8Array): Buffer {
  const head = writeRequestHead(offset, data.length);
  const out = Buffer.allocUnsafe(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/** What precedes the data in writeRequestFrame: the gRPC prefix and the fields up to the data's length. */
export function writeRequestHead(offset: number, dataLength: number): Buffer {
  const fields: number[] = [0x08, 1]; // field 1 (action), varint WRITE
  if (offset > 0) {
    fields.push(0x28); // field 5 (offset), varint
    pushVarint(fields, offset);
  }
  fields.push(0x32); // field 6 (data), length-delimited
  pushVarint(fields, dataLength);
  const head = Buffer.allocUnsafe(5 + fields.length);
  head[0] = 0;
  head.writeUInt32BE(fields.length + dataLength, 1);
  head.set(fields, 5);
  return head;
}

/** Appends `n` (a non-negative safe integer) as a protobuf varint; arithmetic, not bit operators, past 2^31. */
function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/**
 * Like pieces(), but each piece is the list of input slices that make it up,
 * nothing copied: for a sender that copies them into its frames anyway.
 */
export async function* pieceLists(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<{ parts: Uint8Array[]; bytes: number }> {
  let parts: Uint8Array[] = [];
  let bytes = 0;
  for await (let chunk of chunks) {
    while (chunk.length > 0) {
      const k = Math.min(chunk.length, size - bytes);
      parts.push(k === chunk.length ? chunk : chunk.subarray(0, k));
      bytes += k;
      chunk = chunk.subarray(k);
      if (bytes === size) {
        yield { parts, bytes };
        parts = [];
        bytes = 0;
      }
    }
  }
  if (bytes > 0) yield { parts, bytes };
}

/**
 * Cuts a byte stream into pieces of at most `size()` bytes, asked anew for
 * each piece (the window grows during an upload). Input chunks are sliced,
 * not copied, unless a piece spans several of them.
 */
export async function* pieces(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: () => number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const take = (n: number): Uint8Array => {
    const head = pending[0]!;
    if (head.length >= n) {
      const out = head.subarray(0, n);
      if (head.length === n) pending.shift();
      else pending[0] = head.subarray(n);
      pendingBytes -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = pending[0]!;
      const k = Math.min(c.length, n - at);
      out.set(k === c.length ? c : c.subarray(0, k), at);
      at += k;
      if (k === c.length) pending.shift();
      else pending[0] = c.subarray(k);
    }
    pendingBytes -= n;
    return out;
  };
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    pending.push(chunk);
    pendingBytes += chunk.length;
    for (let n = size(); pendingBytes >= n; n = size()) yield take(n);
  }
  while (pendingBytes > 0) yield take(Math.min(size(), pendingBytes));
  pending = [];
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
