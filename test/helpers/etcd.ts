// Debian's etcd 3.4 for the etcd tests, fetched like the rootfs's packages
// (apt-get download into the git-ignored .cache, dpkg-deb -x): etcd-server's
// `etcd` is the binary a node's etcd service runs (copied into a sandbox's
// private rootfs at /test/etcd, never into dist/rootfs), etcd-client's
// `etcdctl` is what the tests drive the cluster with from outside.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fetchDebs } from "../../build/debs.ts";
import type { SandboxFile } from "../../scripts/sandbox.ts";

/** Where a sandbox's etcd service finds the binary... */
export const ETCD_IN_SANDBOX = "/test/etcd";
/** ...and the restore step's etcdctl (Bootstrap with recover_etcd). */
export const ETCDCTL_IN_SANDBOX = "/test/etcdctl";

function binary(pkg: string, rel: string): string {
  const deb = fetchDebs([pkg]).get(pkg)!;
  const bin = join(deb.tree, rel);
  if (!existsSync(bin)) throw new Error(`${pkg} has no ${rel} in ${deb.tree}`);
  return bin;
}

export const etcdPath = () => binary("etcd-server", "usr/bin/etcd");
export const etcdctlPath = () => binary("etcd-client", "usr/bin/etcdctl");

export function etcdFile(): SandboxFile {
  return { path: ETCD_IN_SANDBOX, from: etcdPath(), mode: 0o755 };
}

export function etcdctlFile(): SandboxFile {
  return { path: ETCDCTL_IN_SANDBOX, from: etcdctlPath(), mode: 0o755 };
}
