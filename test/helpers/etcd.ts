// Debian's etcd 3.4 for the etcd tests, fetched like the rootfs's packages
// (apt-get download into the git-ignored .cache, dpkg-deb -x): etcd-server's
// `etcd` and etcd-client's `etcdctl` go into the etcd image the tests build
// (etcd-image.ts; never into dist/rootfs), and `etcdctl` is what the tests
// drive the cluster with from outside.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fetchDebs } from "../../build/debs.ts";

function binary(pkg: string, rel: string): string {
  const deb = fetchDebs([pkg]).get(pkg)!;
  const bin = join(deb.tree, rel);
  if (!existsSync(bin)) throw new Error(`${pkg} has no ${rel} in ${deb.tree}`);
  return bin;
}

export const etcdPath = () => binary("etcd-server", "usr/bin/etcd");
export const etcdctlPath = () => binary("etcd-client", "usr/bin/etcdctl");
