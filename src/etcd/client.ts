// minos's etcd client: etcd's v3 gRPC API over minos's own HTTP/2 transport
// (src/api/transport.ts), with mutual TLS from the etcd CA. Not the npm
// `etcd3` library: it loads its .proto files from node_modules at run time
// (proto-loader's loadSync on __dirname), so inside `bun build --compile`
// it only works on the machine that built it and fails at import on a node
// (checked: ENOENT on node_modules/etcd3/proto/rpc.proto once node_modules
// is gone), and it brings a second grpc-js. See docs/etcd.md.
//
// Endpoints are tried in order; a connection that failed is dropped and
// redialled on the next call, so an etcd restart needs no new client.
import { ApiError, Transport, type TlsOptions } from "../api/transport.ts";
import { Code } from "../api/status.ts";
import {
  decodeResponse,
  encodeRequest,
  methodPath,
  type AlarmMember,
  type KeyValue,
  type Member,
  type MethodName,
  type ResponseHeader,
  type StatusResponse,
} from "./wire.ts";

export type { AlarmMember, KeyValue, Member, StatusResponse };

export interface EtcdClientOptions {
  /** Client URLs: https://10.5.0.2:2379. */
  endpoints: string[];
  tls: TlsOptions;
  /** Per-call deadline (default 5 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** "https://host:port" (or host:port) as the transport's endpoint. */
function hostPort(url: string): { kind: "tcp"; host: string; port: number } {
  const u = new URL(url.includes("://") ? url : `https://${url}`);
  return { kind: "tcp", host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 2379) };
}

/** Failures worth trying the next endpoint for: the member is down or unreachable, not an answer. */
const RETRYABLE = new Set<number>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED]);

export class EtcdClient {
  private readonly transports = new Map<string, Transport>();
  readonly endpoints: string[];
  private readonly timeoutMs: number;

  constructor(private readonly opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new Error("etcd client: no endpoints");
    this.endpoints = [...opts.endpoints];
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private transport(endpoint: string): Transport {
    let t = this.transports.get(endpoint);
    if (!t) this.transports.set(endpoint, (t = new Transport(hostPort(endpoint), this.opts.tls)));
    return t;
  }

  private drop(endpoint: string): void {
    this.transports.get(endpoint)?.close();
    this.transports.delete(endpoint);
  }

  private async unary<T>(m: MethodName, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    let last: unknown;
    for (const ep of this.endpoints) {
      try {
        const bytes = await this.transport(ep).unary(methodPath(m), encodeRequest(m, req), { timeoutMs });
        return decodeResponse<T>(m, bytes);
      } catch (e) {
        last = e;
        if (!(e instanceof ApiError) || !RETRYABLE.has(e.code)) throw e;
        this.drop(ep);
      }
    }
    throw last instanceof ApiError ? new ApiError(last.code, `etcd ${this.endpoints.join(", ")}: ${last.details}`) : last;
  }

  async put(key: string | Uint8Array, value: string | Uint8Array): Promise<ResponseHeader> {
    const r = await this.unary<{ header: ResponseHeader }>("Put", { key: Buffer.from(key), value: Buffer.from(value) });
    return r.header;
  }

  /** One key's value, or undefined. */
  async get(key: string | Uint8Array): Promise<Buffer | undefined> {
    const r = await this.unary<{ kvs: KeyValue[] }>("Range", { key: Buffer.from(key) });
    return r.kvs[0]?.value;
  }

  /** Keys with `prefix` (count only when countOnly). */
  async range(prefix: string, opts: { countOnly?: boolean; limit?: number } = {}): Promise<{ kvs: KeyValue[]; count: number }> {
    const key = Buffer.from(prefix);
    const end = Buffer.from(key);
    // The range end of a prefix: the prefix with its last byte incremented ("\0" for everything).
    if (end.length === 0) end.writeUInt8(0, 0);
    else end[end.length - 1]!++;
    const r = await this.unary<{ kvs: KeyValue[]; count: string }>("Range", {
      key: key.length ? key : Buffer.from([0]),
      range_end: key.length ? end : Buffer.from([0]),
      count_only: Boolean(opts.countOnly),
      limit: opts.limit ?? 0,
    });
    return { kvs: r.kvs, count: Number(r.count) };
  }

  async memberList(): Promise<{ header: ResponseHeader; members: Member[] }> {
    return this.unary("MemberList", {});
  }

  async memberAdd(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    return this.unary("MemberAdd", { peerURLs, isLearner });
  }

  async memberPromote(id: string): Promise<Member[]> {
    return (await this.unary<{ members: Member[] }>("MemberPromote", { ID: id })).members;
  }

  async memberRemove(id: string): Promise<Member[]> {
    return (await this.unary<{ members: Member[] }>("MemberRemove", { ID: id })).members;
  }

  /** Status of the member at `endpoint` (not any endpoint: the answer is about that member). */
  async status(endpoint = this.endpoints[0]!): Promise<StatusResponse> {
    const bytes = await this.transport(endpoint)
      .unary(methodPath("Status"), encodeRequest("Status", {}), { timeoutMs: this.timeoutMs })
      .catch((e) => {
        this.drop(endpoint);
        throw e;
      });
    return decodeResponse<StatusResponse>("Status", bytes);
  }

  async alarms(): Promise<AlarmMember[]> {
    return (await this.unary<{ alarms: AlarmMember[] }>("Alarm", { action: "GET", memberID: "0", alarm: "NONE" })).alarms;
  }

  /** Disarms every active alarm (as etcdctl alarm disarm); returns the alarms that were active. */
  async disarmAlarms(): Promise<AlarmMember[]> {
    const active = await this.alarms();
    for (const a of active) await this.unary("Alarm", { action: "DEACTIVATE", memberID: a.memberID, alarm: a.alarm });
    return active;
  }

  /** Defragments the member at `endpoint` (slow on big databases: a long deadline). */
  async defragment(endpoint = this.endpoints[0]!): Promise<void> {
    await this.transport(endpoint).unary(methodPath("Defragment"), encodeRequest("Defragment", {}), { timeoutMs: 5 * 60_000 });
  }

  /** The leader (at `endpoint`) hands leadership to `targetId`. */
  async moveLeader(targetId: string, endpoint = this.endpoints[0]!): Promise<void> {
    await this.transport(endpoint).unary(methodPath("MoveLeader"), encodeRequest("MoveLeader", { targetID: targetId }), { timeoutMs: 30_000 });
  }

  /** The member's backend database, streamed in chunks as etcd sends them. */
  async *snapshot(endpoint = this.endpoints[0]!): AsyncGenerator<Uint8Array> {
    const stream = this.transport(endpoint).serverStream(methodPath("Snapshot"), encodeRequest("Snapshot", {}));
    try {
      for await (const m of stream) {
        const r = decodeResponse<{ blob: Buffer }>("Snapshot", m);
        if (r.blob.length) yield r.blob;
      }
    } finally {
      stream.cancel();
    }
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }
}
