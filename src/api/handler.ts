// Transport-free handler shapes: the machine API's logic is written against
// these, and server.ts adapts them to its gRPC server (and enforces roles first).
import type { Role } from "./auth.ts";
import type { Services } from "./gen/types.ts";
import type { Msg } from "./wire.ts";
import { Code, StatusError } from "./status.ts";

export interface CallContext {
  role: Role;
  /** The node's hostname, for every reply's metadata. */
  hostname: string;
  /** This call's id (Talos's actor id): the events it causes carry it, and Events' with_actor_id finds them. */
  actorId?: string;
  /**
   * Unary calls: aborted once the client is gone (cancelled, deadline passed),
   * so a slow call does not change state for nobody. Streams use their Sink's.
   */
  signal?: AbortSignal;
}

/** Every reply message's metadata: the node it came from (Talos replies wrap one message per node). */
export const meta = (ctx: CallContext): { hostname: string } => ({ hostname: ctx.hostname });

/** Where a server-streaming handler puts its messages. */
export interface Sink<T> {
  /** Queues one message; false once the stream is over (client gone, or it fell too far behind). */
  push(msg: Msg<T>): boolean;
  /** Resolves when the queue has room again (bulk producers await it between messages). */
  ready(): Promise<void>;
  /** Aborted when the client cancels or the stream fails: follow handlers unsubscribe on it. */
  readonly signal: AbortSignal;
}

export type Unary<Req, Res> = (req: Req, ctx: CallContext) => Promise<Msg<Res>> | Msg<Res>;
export type ServerStream<Req, Res> = (req: Req, ctx: CallContext, sink: Sink<Res>) => Promise<void>;
export type ClientStream<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Msg<Res>>;
export type BidiStream<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext, sink: Sink<Res>) => Promise<void>;

type Impl<M> = M extends { req: infer Q; res: infer R; clientStream: false; serverStream: false }
  ? Unary<Q, R>
  : M extends { req: infer Q; res: infer R; clientStream: false; serverStream: true }
    ? ServerStream<Q, R>
    : M extends { req: infer Q; res: infer R; clientStream: true; serverStream: true }
      ? BidiStream<Q, R>
      : M extends { req: infer Q; res: infer R; clientStream: true; serverStream: false }
        ? ClientStream<Q, R>
        : never;

/** An implementation of every method of a generated service. */
export type ServiceImpl<S extends keyof Services> = { [M in keyof Services[S]]: Impl<Services[S][M]> };

/** Resolves when the signal aborts: a follow handler's "until the client goes away". */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((res) => signal.addEventListener("abort", () => res(), { once: true }));
}

/** Live items a stream may collect while its history is still being replayed. */
export const REPLAY_BACKLOG_LIMIT = 10_000;

/**
 * A follow stream: `history` is sent at the client's pace (sink.ready between
 * messages, so a long ring does not sit in PID 1's memory at once) while live
 * items that arrive meanwhile wait behind it in order; then live items go
 * straight to the sink, whose byte bounds end a stream that falls behind.
 * Subscribes before reading history so nothing falls between the two; without
 * `subscribe` it only replays. Returns when the client goes (or, with nothing
 * to follow, when the history is sent).
 */
export async function replayThenFollow<T>(
  sink: Sink<unknown>,
  history: () => Iterable<T>,
  subscribe: ((fn: (item: T) => void) => () => void) | undefined,
  send: (item: T) => boolean,
): Promise<void> {
  let backlog: T[] | undefined = [];
  let overflow = false;
  const unsubscribe = subscribe?.((item) => {
    if (!backlog) return void send(item);
    if (backlog.length >= REPLAY_BACKLOG_LIMIT) overflow = true;
    else backlog.push(item);
  });
  try {
    const paced = async (items: Iterable<T>): Promise<boolean> => {
      for (const item of items) {
        if (overflow) throw new StatusError(Code.RESOURCE_EXHAUSTED, "client is reading too slowly to catch up; stream ended");
        if (!send(item)) return false;
        await sink.ready();
      }
      return true;
    };
    if (!(await paced(history()))) return;
    // Whatever arrived during the replay, then live.
    while (backlog.length) {
      const batch = backlog;
      backlog = [];
      if (!(await paced(batch))) return;
    }
    backlog = undefined;
    if (unsubscribe) await untilAborted(sink.signal);
  } finally {
    unsubscribe?.();
  }
}
