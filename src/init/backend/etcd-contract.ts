// What init offers the machine API's Etcd calls (Talos's Bootstrap and Etcd*
// RPCs). Member ids are decimal strings: they are random uint64s. Errors are
// src/lib/errors.ts's: FailedPreconditionError for "not here" (a worker, etcd
// not running, Bootstrap twice), NotFoundError for an unknown member.
export interface EtcdMemberInfo {
  id: string;
  hostname: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

export interface EtcdStatusInfo {
  memberId: string;
  protocolVersion: string;
  dbSize: string;
  dbSizeInUse: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  raftAppliedIndex: string;
  errors: string[];
  isLearner: boolean;
}

export type EtcdAlarmType = "NONE" | "NOSPACE" | "CORRUPT";
export interface EtcdAlarmInfo {
  memberId: string;
  alarm: EtcdAlarmType;
}

export interface EtcdBackend {
  /** Starts a one-member cluster here (recover: from the snapshot EtcdRecover uploaded). */
  bootstrap(opts: { recover: boolean; skipHashCheck: boolean }): Promise<void>;
  members(): Promise<EtcdMemberInfo[]>;
  removeMember(id: string): Promise<void>;
  /** Removes this node from the cluster, stops etcd and wipes its data. */
  leave(): Promise<void>;
  /** The member leadership went to ("" when this node did not lead). */
  forfeitLeadership(): Promise<string>;
  status(): Promise<EtcdStatusInfo>;
  alarms(): Promise<EtcdAlarmInfo[]>;
  disarmAlarms(): Promise<EtcdAlarmInfo[]>;
  defragment(): Promise<void>;
  snapshot(): AsyncIterable<Uint8Array>;
  /** Stores a snapshot for a later Bootstrap with recover (refused, nothing kept, when its integrity check fails). */
  recover(chunks: AsyncIterable<Uint8Array>): Promise<void>;
}
