// init's side of the Etcd calls (backend/etcd-contract.ts): Bootstrap, the
// member list and maintenance through this node's own etcd, leaving the
// cluster (etcd stopped, data wiped), snapshots out and in.
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FailedPreconditionError, InvalidArgumentError } from "../../lib/errors.ts";
import type { EtcdMember } from "../../etcd/member.ts";
import { snapshotProblem } from "../../etcd/snapshot.ts";
import type { EtcdBackend, EtcdMemberInfo } from "../backend/etcd-contract.ts";
import type { NodeContext } from "../context.ts";
import { restoreSnapshot } from "./restore.ts";

/** Where EtcdRecover keeps the uploaded snapshot until Bootstrap recovers from it (Talos's path). */
export const RECOVER_SNAPSHOT = "/var/lib/etcd.snapshot";
/** A snapshot upload larger than etcd's own default quota ceiling (8 GiB) is refused. */
const MAX_SNAPSHOT_BYTES = 8 * 1024 ** 3;

export function etcdBackend(ctx: NodeContext): EtcdBackend {
  const member = (): EtcdMember => {
    const m = ctx.etcd.peek();
    if (!m) {
      const cfg = ctx.config.peek()?.config;
      const type = cfg?.machine.type ?? "worker";
      throw new FailedPreconditionError(
        type === "worker"
          ? "etcd: this node is a worker (machine.type); etcd runs on control-plane nodes only"
          : "etcd: not configured on this node (no cluster.etcd.ca)",
      );
    }
    return m;
  };
  /** A running member to ask: etcd's client refuses otherwise, so say why first. */
  const running = (): EtcdMember => {
    const m = member();
    const svc = ctx.services.peek()?.find("etcd");
    if (svc?.state !== "Running") {
      const last = svc?.info().events.at(-1)?.msg;
      throw new FailedPreconditionError(`etcd is not running on this node (${svc?.state ?? "not declared"}${last ? `: ${last}` : ""})`);
    }
    return m;
  };
  const withClient = async <T>(fn: (c: ReturnType<EtcdMember["local"]>) => Promise<T>): Promise<T> => {
    const c = running().local();
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  };
  const restore = async (m: EtcdMember, skipHashCheck: boolean): Promise<void> => {
    if (!existsSync(RECOVER_SNAPSHOT))
      throw new FailedPreconditionError(`no snapshot to recover from: upload one with EtcdRecover first (${RECOVER_SNAPSHOT})`);
    await restoreSnapshot(ctx.services.get().containers, m, { snapshot: RECOVER_SNAPSHOT, skipHashCheck, log: (l) => ctx.log.info(l) });
    m.restored();
  };

  return {
    bootstrap: async ({ recover, skipHashCheck }) => {
      const m = member();
      if (!recover) return m.requestBootstrap();
      m.checkBootstrap();
      await restore(m, skipHashCheck);
      ctx.log.info("etcd: bootstrapped from the recovered snapshot");
    },
    members: () =>
      withClient(async (c) =>
        (await c.memberList()).members.map(
          (x): EtcdMemberInfo => ({ id: x.ID, hostname: x.name, peerUrls: x.peerURLs, clientUrls: x.clientURLs, isLearner: x.isLearner }),
        ),
      ),
    removeMember: async (id) => {
      running();
      await member().removeMember(id);
    },
    leave: async () => {
      const m = running();
      await m.leave();
      await ctx.services.get().get("etcd").stop();
      m.wipe();
    },
    forfeitLeadership: async () => {
      running();
      return member().forfeitLeadership();
    },
    status: () =>
      withClient(async (c) => {
        const s = await c.status();
        return {
          memberId: s.header.member_id,
          protocolVersion: s.version,
          dbSize: s.dbSize,
          dbSizeInUse: s.dbSizeInUse,
          leader: s.leader,
          raftIndex: s.raftIndex,
          raftTerm: s.raftTerm,
          raftAppliedIndex: s.raftAppliedIndex,
          errors: s.errors,
          isLearner: s.isLearner,
        };
      }),
    alarms: () => withClient(async (c) => (await c.alarms()).map((a) => ({ memberId: a.memberID, alarm: a.alarm }))),
    disarmAlarms: () => withClient(async (c) => (await c.disarmAlarms()).map((a) => ({ memberId: a.memberID, alarm: a.alarm }))),
    defragment: () => withClient((c) => c.defragment()),
    snapshot: () => {
      const c = running().local();
      return (async function* () {
        try {
          yield* c.snapshot();
        } finally {
          c.close();
        }
      })();
    },
    recover: async (chunks) => {
      const m = member();
      m.checkBootstrap();
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of chunks) {
        size += chunk.length;
        if (size > MAX_SNAPSHOT_BYTES) throw new InvalidArgumentError(`snapshot larger than ${MAX_SNAPSHOT_BYTES} bytes`);
        parts.push(chunk);
      }
      const data = Buffer.concat(parts);
      const problem = snapshotProblem(data);
      if (problem) throw new InvalidArgumentError(`EtcdRecover: ${problem}; nothing stored`);
      const tmp = join(dirname(RECOVER_SNAPSHOT), `.etcd.snapshot.${process.pid}`);
      writeFileSync(tmp, data, { mode: 0o600 });
      renameSync(tmp, RECOVER_SNAPSHOT);
      ctx.log.info(`etcd: snapshot of ${data.length} bytes stored for recovery (${RECOVER_SNAPSHOT})`);
    },
  };
}
