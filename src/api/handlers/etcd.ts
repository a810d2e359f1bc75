// Talos's Bootstrap and Etcd* calls of machine.MachineService, answered from
// init's EtcdBackend. Member ids travel as uint64 (decimal strings here, so
// they stay exact). A backend without etcd answers FAILED_PRECONDITION.
import type { MachineBackend } from "../../init/backend/contract.ts";
import type { EtcdAlarmInfo, EtcdBackend } from "../../init/backend/etcd-contract.ts";
import { FailedPreconditionError, InvalidArgumentError } from "../../lib/errors.ts";
import type { machine } from "../gen/types.ts";
import { meta, type CallContext, type ServiceImpl } from "../handler.ts";
import type { Msg } from "../wire.ts";

type EtcdMethods =
  | "Bootstrap"
  | "EtcdMemberList"
  | "EtcdRemoveMemberByID"
  | "EtcdLeaveCluster"
  | "EtcdForfeitLeadership"
  | "EtcdRecover"
  | "EtcdSnapshot"
  | "EtcdAlarmList"
  | "EtcdAlarmDisarm"
  | "EtcdDefragment"
  | "EtcdStatus";

const alarmMsgs = (list: EtcdAlarmInfo[]): Msg<machine.EtcdMemberAlarm>[] => list.map((a) => ({ member_id: a.memberId as unknown as number, alarm: a.alarm }));

/** uint64 on the wire from a decimal string (protobufjs takes strings for 64-bit fields; types.ts says number). */
const u64 = (s: string) => s as unknown as number;

export function etcdHandlers(backend: MachineBackend): Pick<ServiceImpl<"machine.MachineService">, EtcdMethods> {
  const etcd = (): EtcdBackend => {
    if (!backend.etcd) throw new FailedPreconditionError("etcd is not available on this node");
    return backend.etcd;
  };
  const done = (ctx: CallContext) => ({ messages: [{ metadata: meta(ctx) }] });
  return {
    async Bootstrap(req, ctx) {
      await etcd().bootstrap({ recover: req.recover_etcd, skipHashCheck: req.recover_skip_hash_check });
      return done(ctx);
    },
    async EtcdMemberList(_req, ctx) {
      const members = await etcd().members();
      return {
        messages: [
          {
            metadata: meta(ctx),
            legacy_members: members.map((m) => m.hostname),
            members: members.map((m) => ({ id: u64(m.id), hostname: m.hostname, peer_urls: m.peerUrls, client_urls: m.clientUrls, is_learner: m.isLearner })),
          },
        ],
      };
    },
    async EtcdRemoveMemberByID(req, ctx) {
      const id = String(req.member_id);
      if (!/^[1-9]\d*$/.test(id)) throw new InvalidArgumentError("member_id: a member id is required");
      await etcd().removeMember(id);
      return done(ctx);
    },
    async EtcdLeaveCluster(_req, ctx) {
      await etcd().leave();
      return done(ctx);
    },
    async EtcdForfeitLeadership(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), member: await etcd().forfeitLeadership() }] };
    },
    async EtcdRecover(requests, ctx) {
      const chunks = (async function* () {
        for await (const d of requests) yield d.bytes;
      })();
      await etcd().recover(chunks);
      return done(ctx);
    },
    async EtcdSnapshot(_req, _ctx, sink) {
      const chunks = etcd().snapshot();
      for await (const bytes of chunks) {
        if (!sink.push({ bytes })) return;
        await sink.ready();
      }
    },
    async EtcdAlarmList(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), member_alarms: alarmMsgs(await etcd().alarms()) }] };
    },
    async EtcdAlarmDisarm(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), member_alarms: alarmMsgs(await etcd().disarmAlarms()) }] };
    },
    async EtcdDefragment(_req, ctx) {
      await etcd().defragment();
      return done(ctx);
    },
    async EtcdStatus(_req, ctx) {
      const s = await etcd().status();
      return {
        messages: [
          {
            metadata: meta(ctx),
            member_status: {
              member_id: u64(s.memberId),
              protocol_version: s.protocolVersion,
              db_size: u64(s.dbSize),
              db_size_in_use: u64(s.dbSizeInUse),
              leader: u64(s.leader),
              raft_index: u64(s.raftIndex),
              raft_term: u64(s.raftTerm),
              raft_applied_index: u64(s.raftAppliedIndex),
              errors: s.errors,
              is_learner: s.isLearner,
            },
          },
        ],
      };
    },
  };
}
