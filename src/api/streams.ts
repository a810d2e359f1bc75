// What the machine API's server streams may hold in PID 1: bytes buffered for
// each stream and for all of them together, and how many streams one
// connection, one client identity and the whole server may have open. A
// client that opens follow streams and never reads must not be able to grow
// init until the kernel kills it: a stream past its share is ended with
// RESOURCE_EXHAUSTED (and reset if even that cannot be delivered), and a
// stream over the caps is refused before its handler runs.
import { Code, StatusError } from "./status.ts";

export interface StreamLimits {
  /** Bytes one stream may have written but not yet flushed before it is ended. */
  perStreamBytes: number;
  /** A bulk producer (Read, List, a replay) waits until its stream is below this. */
  lowWaterBytes: number;
  /** Bytes all streams together may have unflushed: past it, the stream that asks for more is ended. */
  totalBytes: number;
  /** Concurrent server streams on one connection. */
  perConnection: number;
  /** Concurrent server streams of one client identity (a certificate; on the node socket, a connection). */
  perIdentity: number;
  /** Concurrent server streams in all. */
  total: number;
  /** A stream ended for falling behind is reset this long after its status was queued, if still open. */
  resetAfterMs: number;
  /** Once streams that closed dropped this many unsent bytes, or this many streams closed, the heap is collected (and given back to the kernel). */
  collectAfterDroppedBytes: number;
  collectAfterClosedStreams: number;
}

/**
 * The bounds PID 1 runs with. 500 streams that never read hold at most
 * totalBytes of messages (16 MiB), plus per-stream bookkeeping; a stream that
 * reads at all keeps far less than perStreamBytes queued.
 */
export const STREAM_LIMITS: StreamLimits = {
  perStreamBytes: 512 * 1024,
  lowWaterBytes: 128 * 1024,
  totalBytes: 16 * 1024 * 1024,
  perConnection: 32,
  perIdentity: 32,
  total: 1024,
  resetAfterMs: 1000,
  collectAfterDroppedBytes: 4 * 1024 * 1024,
  collectAfterClosedStreams: 32,
};

/**
 * Bun's full collection: it also returns freed pages to the kernel, which the
 * regular collector does lazily (Bun.gc(false) gave nothing back). It blocks:
 * ~65 ms with ~170 MiB of heap after 500 never-read streams closed, hence
 * only after many streams or bytes went, and batched.
 */
const fullCollect = () => Bun.gc(true);

/** Collections are batched: at most one this often. */
const COLLECT_EVERY_MS = 2000;

/** Who a stream belongs to: its connection and its client identity (the same string on the node socket). */
export interface StreamOwner {
  connection: string;
  identity: string;
}

/** Counts streams and bytes for one PID 1 (shared by the socket and the TLS listener). */
export class StreamGate {
  private bytes = 0;
  private streams = 0;
  private readonly perKey = new Map<string, number>();
  private droppedSinceCollect = 0;
  private closedSinceCollect = 0;
  private collectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Full collections run so far (tests read it). */
  collections = 0;

  constructor(
    readonly limits: StreamLimits = STREAM_LIMITS,
    private readonly collect: () => void = fullCollect,
  ) {}

  get bufferedBytes(): number {
    return this.bytes;
  }
  get openStreams(): number {
    return this.streams;
  }

  /** Admits one stream or throws RESOURCE_EXHAUSTED naming the cap; the returned function gives the slot back (once). */
  admit(owner: StreamOwner): () => void {
    const conn = `c:${owner.connection}`;
    const who = `i:${owner.identity}`;
    const { perConnection, perIdentity, total } = this.limits;
    if (this.streams >= total) throw new StatusError(Code.RESOURCE_EXHAUSTED, `too many streams open on this node (${total}); try again later`);
    if ((this.perKey.get(conn) ?? 0) >= perConnection)
      throw new StatusError(Code.RESOURCE_EXHAUSTED, `too many streams on this connection (${perConnection} at most)`);
    if (who !== conn && (this.perKey.get(who) ?? 0) >= perIdentity)
      throw new StatusError(Code.RESOURCE_EXHAUSTED, `too many streams for ${owner.identity} (${perIdentity} at most)`);
    this.streams++;
    this.bump(conn, 1);
    if (who !== conn) this.bump(who, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.streams--;
      this.bump(conn, -1);
      if (who !== conn) this.bump(who, -1);
    };
  }

  /** Reserves n bytes of the shared budget; false when that would pass totalBytes. */
  take(n: number): boolean {
    if (this.bytes + n > this.limits.totalBytes) return false;
    this.bytes += n;
    return true;
  }

  give(n: number): void {
    this.bytes = Math.max(0, this.bytes - n);
  }

  /**
   * A stream closed with n bytes never sent: they are garbage now, often a
   * lot of it at once (clients that never read, killed together), with the
   * stream's and its connection's buffers. The regular collector would keep
   * that heap for a long time; collect once the drops add up, batched so a
   * crowd leaving costs one collection.
   */
  closed(n: number): void {
    this.give(n);
    this.droppedSinceCollect += n;
    this.closedSinceCollect++;
    const due = this.droppedSinceCollect >= this.limits.collectAfterDroppedBytes || this.closedSinceCollect >= this.limits.collectAfterClosedStreams;
    if (!due || this.collectTimer) return;
    this.collectTimer = setTimeout(() => {
      this.collectTimer = undefined;
      this.droppedSinceCollect = 0;
      this.closedSinceCollect = 0;
      this.collections++;
      this.collect();
    }, COLLECT_EVERY_MS);
  }

  /** Stops a pending collection (the server is closing). */
  close(): void {
    clearTimeout(this.collectTimer);
    this.collectTimer = undefined;
  }

  private bump(key: string, by: number): void {
    const n = (this.perKey.get(key) ?? 0) + by;
    if (n <= 0) this.perKey.delete(key);
    else this.perKey.set(key, n);
  }
}
