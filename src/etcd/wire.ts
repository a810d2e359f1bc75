// The subset of etcd's v3 gRPC API (package etcdserverpb, etcd 3.4+) minos
// speaks: KV Put/Range, Cluster MemberList/MemberAdd/MemberPromote/
// MemberRemove, Maintenance Status/Alarm/Defragment/Snapshot/MoveLeader. Our
// own definitions, as protobufjs JSON, of the field numbers etcd's public
// rpc.proto and kv.proto give; unknown fields of newer etcds are skipped by
// the decoder. 64-bit integers decode as decimal strings: member ids are
// random uint64s, and a JavaScript number would round them.
import type protobuf from "protobufjs/light.js";
import { protobufjs } from "../lib/lazy-root.ts";

const u64 = (id: number) => ({ type: "uint64", id });
const i64 = (id: number) => ({ type: "int64", id });
const bytes = (id: number) => ({ type: "bytes", id });
const bool = (id: number) => ({ type: "bool", id });
const str = (id: number) => ({ type: "string", id });
const rep = (type: string, id: number) => ({ rule: "repeated", type, id });
const msg = (type: string, id: number) => ({ type, id });
const header = { header: msg("ResponseHeader", 1) };

const SCHEMA = {
  nested: {
    etcdserverpb: {
      nested: {
        ResponseHeader: { fields: { cluster_id: u64(1), member_id: u64(2), revision: i64(3), raft_term: u64(4) } },
        KeyValue: { fields: { key: bytes(1), create_revision: i64(2), mod_revision: i64(3), version: i64(4), value: bytes(5), lease: i64(6) } },
        RangeRequest: {
          fields: { key: bytes(1), range_end: bytes(2), limit: i64(3), revision: i64(4), serializable: bool(7), keys_only: bool(8), count_only: bool(9) },
        },
        RangeResponse: { fields: { ...header, kvs: rep("KeyValue", 2), more: bool(3), count: i64(4) } },
        PutRequest: { fields: { key: bytes(1), value: bytes(2), lease: i64(3) } },
        PutResponse: { fields: { ...header } },
        Member: { fields: { ID: u64(1), name: str(2), peerURLs: rep("string", 3), clientURLs: rep("string", 4), isLearner: bool(5) } },
        MemberAddRequest: { fields: { peerURLs: rep("string", 1), isLearner: bool(2) } },
        MemberAddResponse: { fields: { ...header, member: msg("Member", 2), members: rep("Member", 3) } },
        MemberRemoveRequest: { fields: { ID: u64(1) } },
        MemberRemoveResponse: { fields: { ...header, members: rep("Member", 2) } },
        MemberListRequest: { fields: { linearizable: bool(1) } },
        MemberListResponse: { fields: { ...header, members: rep("Member", 2) } },
        MemberPromoteRequest: { fields: { ID: u64(1) } },
        MemberPromoteResponse: { fields: { ...header, members: rep("Member", 2) } },
        AlarmType: { values: { NONE: 0, NOSPACE: 1, CORRUPT: 2 } },
        AlarmRequest: {
          fields: { action: { type: "AlarmAction", id: 1 }, memberID: u64(2), alarm: { type: "AlarmType", id: 3 } },
          nested: { AlarmAction: { values: { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 } } },
        },
        AlarmMember: { fields: { memberID: u64(1), alarm: { type: "AlarmType", id: 2 } } },
        AlarmResponse: { fields: { ...header, alarms: rep("AlarmMember", 2) } },
        StatusRequest: { fields: {} },
        StatusResponse: {
          fields: {
            ...header,
            version: str(2),
            dbSize: i64(3),
            leader: u64(4),
            raftIndex: u64(5),
            raftTerm: u64(6),
            raftAppliedIndex: u64(7),
            errors: rep("string", 8),
            dbSizeInUse: i64(9),
            isLearner: bool(10),
          },
        },
        DefragmentRequest: { fields: {} },
        DefragmentResponse: { fields: { ...header } },
        SnapshotRequest: { fields: {} },
        SnapshotResponse: { fields: { ...header, remaining_bytes: u64(2), blob: bytes(3) } },
        MoveLeaderRequest: { fields: { targetID: u64(1) } },
        MoveLeaderResponse: { fields: { ...header } },
      },
    },
  },
};

// Built at the first etcd call, not at import (protobufjs too): only a control
// plane talks to etcd, and every node's init imports this module.
let root: protobuf.Root | undefined;
const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: Buffer, defaults: true, arrays: true };

/** An etcd member as the Cluster service reports it (ID as a decimal string). */
export interface Member {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}
export interface ResponseHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}
export interface KeyValue {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
}
export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  dbSize: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  raftAppliedIndex: string;
  errors: string[];
  dbSizeInUse: string;
  isLearner: boolean;
}
export type AlarmType = "NONE" | "NOSPACE" | "CORRUPT";
export interface AlarmMember {
  memberID: string;
  alarm: AlarmType;
}

/** Services and their methods: the gRPC path and the request/response types. */
export const METHODS = {
  Range: ["KV", "RangeRequest", "RangeResponse"],
  Put: ["KV", "PutRequest", "PutResponse"],
  MemberList: ["Cluster", "MemberListRequest", "MemberListResponse"],
  MemberAdd: ["Cluster", "MemberAddRequest", "MemberAddResponse"],
  MemberRemove: ["Cluster", "MemberRemoveRequest", "MemberRemoveResponse"],
  MemberPromote: ["Cluster", "MemberPromoteRequest", "MemberPromoteResponse"],
  Alarm: ["Maintenance", "AlarmRequest", "AlarmResponse"],
  Status: ["Maintenance", "StatusRequest", "StatusResponse"],
  Defragment: ["Maintenance", "DefragmentRequest", "DefragmentResponse"],
  Snapshot: ["Maintenance", "SnapshotRequest", "SnapshotResponse"],
  MoveLeader: ["Maintenance", "MoveLeaderRequest", "MoveLeaderResponse"],
} as const;
export type MethodName = keyof typeof METHODS;

export function methodPath(m: MethodName): string {
  return `/etcdserverpb.${METHODS[m][0]}/${m}`;
}

const types = new Map<string, protobuf.Type>();
function type(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    root ??= protobufjs().Root.fromJSON(SCHEMA);
    t = root.lookupType(`etcdserverpb.${name}`);
    types.set(name, t);
  }
  return t;
}

export function encodeRequest(m: MethodName, value: object): Uint8Array {
  const t = type(METHODS[m][1]);
  return t.encode(t.fromObject(value as Record<string, unknown>)).finish();
}

export function decodeResponse<T>(m: MethodName, bytes: Uint8Array): T {
  const t = type(METHODS[m][2]);
  return t.toObject(t.decode(bytes), OBJECT_OPTIONS) as T;
}
