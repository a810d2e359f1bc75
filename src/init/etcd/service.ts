// The "etcd" service of a control-plane node, as Talos 1.7 runs it: a
// container of cluster.etcd.image in containerd's "system" namespace running
// /usr/local/bin/etcd, host network, /var/lib/etcd read-write and the PKI
// directory read-only, as the etcd user (uid:gid 60:60) with every capability
// dropped, oom score -998, machine.env plus ETCD_CIPHER_SUITES.
//
// Its prepare step (Talos's PreFunc) first has the image (pulled through the
// registry settings, mirrors included; while it cannot be had the service is
// Waiting with the registry's error and tries again with backoff), and only
// then lets the member controller (src/etcd/member.ts) decide how etcd starts
// (rejoin, bootstrap, or join as a learner): a node that cannot run etcd never
// adds itself to the cluster.
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { deniedExtraArgs, ETCD_BINARY_IN_IMAGE, ETCD_USER_ID, type EtcdRunSpec } from "../../etcd/service.ts";
import type { EtcdMember } from "../../etcd/member.ts";
import { SYSTEM_NAMESPACE } from "../../images/pull.ts";
import { sleep } from "../../lib/timers.ts";
import { errText } from "../mechanisms/log.ts";
import type { ContainerRunSpec } from "../supervisor/oci-spec.ts";
import { backoffDelay, serviceSpec, type ServiceSpec } from "../supervisor/spec.ts";

/** Talos's etcd oom score. */
export const ETCD_OOM_SCORE = -998;
const PULL_BACKOFF = { initialMs: 1000, maxMs: 30_000 };

/** Has the image in containerd (pulled unless present); throws with `retry` saying whether trying again can help. */
export type ImageFetch = (image: string, status: (msg: string) => void) => Promise<void>;

export interface EtcdServiceOptions {
  image: string;
  /** machine.env as KEY=value (Talos gives it to etcd too). */
  env: string[];
  fetchImage: ImageFetch;
  /** Gives a path (recursively) to the etcd user; chownToEtcd unless a test says otherwise. */
  chown?: (path: string) => void;
}

/** The etcd container for one run of `run` (the member controller's spec for this start). */
export function etcdContainer(run: EtcdRunSpec, env: string[]): ContainerRunSpec {
  return {
    image: run.image,
    namespace: SYSTEM_NAMESPACE,
    args: [ETCD_BINARY_IN_IMAGE, ...run.args],
    env: [...env, ...Object.entries(run.env).map(([k, v]) => `${k}=${v}`)],
    mounts: run.mounts.map((m) => ({ type: "bind", source: m.source, destination: m.destination, options: ["rbind", m.readonly ? "ro" : "rw"] })),
    hostNamespaces: ["network"],
    capabilities: [],
    user: `${ETCD_USER_ID}:${ETCD_USER_ID}`,
    noNewPrivileges: false,
  };
}

/** chown -R to the etcd user (Talos chowns both of etcd's mounts to it); symlinks are not followed. */
export function chownToEtcd(path: string): void {
  chownSync(path, ETCD_USER_ID, ETCD_USER_ID);
  if (!lstatSync(path).isDirectory()) return;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isSymbolicLink()) continue;
    chownToEtcd(p);
  }
}

/** A pull error that says whether trying again can help (a registry down: yes; a malformed reference: no). */
export class EtcdImageError extends Error {
  override name = "EtcdImageError";
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export function etcdServiceSpec(member: EtcdMember, o: EtcdServiceOptions): ServiceSpec {
  const spec: ServiceSpec = serviceSpec({
    id: "etcd",
    dependsOn: ["containerd"],
    precondition: () => {
      const denied = deniedExtraArgs(member.settings.extraArgs);
      if (denied.length) return `cluster.etcd.extraArgs may not set ${denied.join(", ")} (Talos refuses them too: minos sets them)`;
      return existsSync("/bin/containerd") ? undefined : "/bin/containerd is not in the rootfs: etcd runs as a container";
    },
    command: [ETCD_BINARY_IN_IMAGE],
    cgroup: "system/etcd",
    oomScore: ETCD_OOM_SCORE,
    prepare: async (ctx) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await o.fetchImage(o.image, (msg) => ctx.waiting(msg));
          break;
        } catch (e) {
          if (e instanceof EtcdImageError && !e.retry) throw e;
          const delay = backoffDelay(attempt, PULL_BACKOFF);
          ctx.waiting(`image ${o.image}: ${errText(e)}; retry in ${delay} ms`);
          if (!(await sleep(delay, ctx.signal))) throw new Error("stopped");
        }
      }
      const run = await member.prepare(ctx);
      mkdirSync(run.dataDir, { recursive: true, mode: 0o700 });
      const chown = o.chown ?? chownToEtcd;
      chown(run.dataDir);
      chown(member.secretsDir);
      spec.container = etcdContainer(run, o.env);
    },
    backoff: { initialMs: 500, maxMs: 30_000 },
    stopGraceMs: 15_000,
    health: {
      check: async () => {
        const c = member.local();
        try {
          const st = await c.status();
          if (st.errors.length) throw new Error(st.errors.join("; "));
        } finally {
          c.close();
        }
      },
      startIntervalMs: 500,
      intervalMs: 5000,
      timeoutMs: 5000,
    },
  });
  return spec;
}
