// A full collection every so many API calls while calls keep coming.
//
// Under a steady stream of calls PID 1's RSS saw-tooths: per-call objects
// that outlive a young-generation collection (a connection's frames, a
// stream's state) are promoted, and only JavaScriptCore's full collections
// free them and the allocator pages under them. Those come rarely on a small
// heap, so over 200,000 calls RSS climbed ~1 MiB per 10,000 calls from 72 to
// 79 MiB and fell back once every 80,000-90,000 (README, "What changed").
// A synchronous full collection every 10,000 calls kept it at 64-67 MiB
// through the same 200,000 calls, with API p99 and throughput unchanged
// beside containerd's (bench/variants.ts, 4 rounds).
//
// The asynchronous form (Bun.gc(false)) did not flatten it, and neither did
// JavaScriptCore's heap-sizing options; turning the young generation off
// (BUN_JSC_useGenerationalGC=0) did, but cost throughput on every call.
//
// The collection runs on a later turn of the event loop, not inside the call
// that reached the count, and never more often than minIntervalMs, which
// bounds its share of a loaded node's CPU. A node polled now and then
// reaches 10,000 calls in hours and collects that rarely; the idle trim
// (idle-trim.ts) is what gives memory back after a burst.

export interface BusyCollectOptions {
  /** Calls between collections (default 10,000). */
  everyEvents?: number;
  /** The least time between two collections (default 250 ms). */
  minIntervalMs?: number;
  /** What a collection does (default a synchronous full Bun.gc). */
  collect?: () => void;
}

export class BusyCollector {
  private readonly everyEvents: number;
  private readonly minIntervalMs: number;
  private readonly collect: () => void;
  private sinceCollect = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private scheduled: ReturnType<typeof setTimeout> | undefined;
  /** Collections run so far, and the longest one (diagnostics and tests). */
  collections = 0;
  longestMs = 0;

  constructor(opts: BusyCollectOptions = {}) {
    this.everyEvents = opts.everyEvents ?? 10_000;
    this.minIntervalMs = opts.minIntervalMs ?? 250;
    this.collect = opts.collect ?? (() => Bun.gc(true));
  }

  /** One call. Cheap: a counter, and one timer when a collection is due. */
  touch(): void {
    if (++this.sinceCollect < this.everyEvents || this.scheduled !== undefined) return;
    const wait = Math.max(0, this.lastAt + this.minIntervalMs - performance.now());
    this.scheduled = setTimeout(() => this.run(), wait);
    this.scheduled.unref();
  }

  private run(): void {
    this.scheduled = undefined;
    this.sinceCollect = 0;
    const t0 = performance.now();
    try {
      this.collect();
    } catch {
      // Collecting is an optimisation: it never fails the node.
    }
    this.lastAt = performance.now();
    this.collections++;
    this.longestMs = Math.max(this.longestMs, this.lastAt - t0);
  }

  stop(): void {
    if (this.scheduled !== undefined) clearTimeout(this.scheduled);
    this.scheduled = undefined;
  }
}
