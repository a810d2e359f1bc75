// Bootstrap with recover_etcd: the uploaded snapshot becomes this node's data
// directory, as a one-member cluster of this node. Talos does the restore in
// machined with etcdutl's library; minos has no bbolt writer of its own, so it
// runs etcd's own restore from cluster.etcd.image: a one-shot container of
// the same image, as the etcd user with no capabilities and no network,
// running `etcdctl snapshot restore` (etcd 3.4 and 3.5 both have it) into a
// staging directory. Only a restore that succeeded replaces the data directory.
import { chownSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ETCDCTL_IN_IMAGE, ETCD_USER_ID } from "../../etcd/service.ts";
import type { EtcdMember } from "../../etcd/member.ts";
import { SYSTEM_NAMESPACE } from "../../images/pull.ts";
import { FailedPreconditionError } from "../../lib/errors.ts";
import { errText } from "../mechanisms/log.ts";
import { describeExit, type ExitStatus } from "../supervisor/reaper.ts";
import type { ContainerLauncher } from "../supervisor/run.ts";
import { serviceSpec } from "../supervisor/spec.ts";
import { ETCD_OOM_SCORE } from "./service.ts";

export interface RestoreRequest {
  /** The uploaded snapshot (checked whole already). */
  snapshot: string;
  skipHashCheck: boolean;
  log(msg: string): void;
}

/** The restore's argv: this node as the only member, at its peer URL. */
export function restoreArgs(name: string, peerURL: string, snapshot: string, dataDir: string, skipHashCheck: boolean): string[] {
  return [
    ETCDCTL_IN_IMAGE,
    "snapshot",
    "restore",
    snapshot,
    `--name=${name}`,
    `--initial-cluster=${name}=${peerURL}`,
    `--initial-advertise-peer-urls=${peerURL}`,
    `--data-dir=${dataDir}`,
    ...(skipHashCheck ? ["--skip-hash-check=true"] : []),
  ];
}

export async function restoreSnapshot(containers: ContainerLauncher | undefined, member: EtcdMember, r: RestoreRequest): Promise<void> {
  if (!containers) throw new FailedPreconditionError("no container runtime on this node: the restore runs in a container of cluster.etcd.image");
  const peer = member.peerUrl();
  if (!peer) throw new FailedPreconditionError("etcd has no address yet: cannot restore before the node has one");
  // etcdctl refuses a data directory that exists: it restores into one inside the staging directory.
  const staging = `${member.dataDir}.restoring`;
  const restored = join(staging, "data");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  chownSync(staging, ETCD_USER_ID, ETCD_USER_ID);
  chownSync(r.snapshot, ETCD_USER_ID, ETCD_USER_ID);
  const spec = serviceSpec({
    id: "etcd-restore",
    command: [ETCDCTL_IN_IMAGE],
    cgroup: "system/etcd-restore",
    oomScore: ETCD_OOM_SCORE,
    container: {
      image: member.settings.image,
      namespace: SYSTEM_NAMESPACE,
      args: restoreArgs(member.settings.hostname, peer, r.snapshot, restored, r.skipHashCheck),
      env: ["ETCDCTL_API=3"],
      mounts: [
        { type: "bind", source: staging, destination: staging, options: ["rbind", "rw"] },
        { type: "bind", source: r.snapshot, destination: r.snapshot, options: ["rbind", "ro"] },
      ],
      hostNamespaces: [],
      capabilities: [],
      user: `${ETCD_USER_ID}:${ETCD_USER_ID}`,
      noNewPrivileges: true,
    },
  });
  const output: string[] = [];
  try {
    let status: ExitStatus;
    try {
      const run = await containers.start(
        spec,
        (line) => output.push(line),
        (msg) => r.log(`etcd restore: ${msg}`),
      );
      status = await run.exited;
    } catch (e) {
      throw new FailedPreconditionError(`snapshot restore could not start: ${errText(e)}`);
    }
    if (status.code !== 0 || !existsSync(join(restored, "member"))) {
      const last = output.filter((l) => l.trim()).at(-1) ?? "no output";
      throw new FailedPreconditionError(`snapshot restore failed (${describeExit(status)}): ${last}`);
    }
    rmSync(member.dataDir, { recursive: true, force: true });
    renameSync(restored, member.dataDir);
    r.log(`etcd: snapshot restored into ${member.dataDir} by ${ETCDCTL_IN_IMAGE} of ${member.settings.image}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
