// init's side of the Etcd calls (backend/etcd-contract.ts): Bootstrap, the
// member list and maintenance through this node's own etcd, leaving the
// cluster (etcd stopped, data wiped), snapshots out and in.
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FailedPreconditionError, InvalidArgumentError } from "../../lib/errors.ts";
import type { EtcdMember } from "../../etcd/member.ts";
import { snapshotProblem } from "../../etcd/snapshot.ts";
import type { EtcdBackend, EtcdMemberInfo } from "../backend/etcd-contract.ts";
import type { NodeContext } from "../context.ts";
import { describeExit, type ExitStatus } from "../supervisor/reaper.ts";

/** Where EtcdRecover keeps the uploaded snapshot until Bootstrap recovers from it (Talos's path). */
export const RECOVER_SNAPSHOT = "/var/lib/etcd.snapshot";
/** The restore step's tool until the container runner can run etcdutl from the etcd image: etcdctl 3.4's `snapshot restore`. */
export const DEFAULT_ETCDCTL_BINARY = "/usr/local/bin/etcdctl";
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
    const peer = m.peerUrl();
    if (!peer) throw new FailedPreconditionError("etcd has no address yet: cannot restore before the node has one");
    const tool = ctx.env.MINOS_ETCDCTL_BINARY || DEFAULT_ETCDCTL_BINARY;
    if (!existsSync(tool)) throw new FailedPreconditionError(`${tool} is not on the node: restoring a snapshot needs etcd's restore step (docs/etcd.md)`);
    const name = m.settings.hostname;
    const staging = `${m.dataDir}.restoring`;
    rmSync(staging, { recursive: true, force: true });
    // Through init's reaper: PID 1 reaps every child, and only the reaper may take their exit statuses.
    const logFile = `${m.dataDir}.restore.log`;
    const fd = openSync(logFile, "w", 0o600);
    const argv = [
      tool,
      "snapshot",
      "restore",
      RECOVER_SNAPSHOT,
      `--name=${name}`,
      `--initial-cluster=${name}=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--data-dir=${staging}`,
      ...(skipHashCheck ? ["--skip-hash-check=true"] : []),
    ];
    let exited: Promise<ExitStatus>;
    try {
      ({ exited } = ctx.reaper.spawn({ path: tool, argv, env: ["ETCDCTL_API=3", "PATH=/sbin:/bin"], stdin: "null", stdout: fd, stderr: fd, setsid: true }));
    } finally {
      closeSync(fd);
    }
    const status = await exited;
    const output = readFileSync(logFile, "utf8").trim();
    rmSync(logFile, { force: true });
    if (status.code !== 0) {
      rmSync(staging, { recursive: true, force: true });
      throw new FailedPreconditionError(`snapshot restore failed (${describeExit(status)}): ${output.split("\n").at(-1)}`);
    }
    rmSync(m.dataDir, { recursive: true, force: true });
    renameSync(staging, m.dataDir);
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
