// The rootfs's minimal /etc: who the OS is, how containerd is laid out, and
// the few files glibc and Go's resolver read. Nothing here names a shell: the
// rootfs has none, so the accounts' shell is a path that does not exist.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CNI_CONF_DIR, CRI_CONFIG_IMPORTS, PLAIN_NODE, criPluginToml } from "../src/containerd/cri-config.ts";

export function osRelease(version: string): string {
  return [
    `NAME="minos"`,
    `ID=minos`,
    `VERSION_ID="${version}"`,
    `VERSION="${version}"`,
    `PRETTY_NAME="minos ${version}"`,
    // Which distribution the upstream binaries come from; minos is not Debian.
    `BUILD_ID="debian-12"`,
    "",
  ].join("\n");
}

/**
 * containerd's own config (schema version 2, containerd 1.6). Persistent state
 * under /var, runtime state and the socket under /run: the rootfs itself stays
 * read-only. The opt plugin would create /opt/containerd in the rootfs, so it is
 * off (Talos disables it too); the CRI plugin stays, for the kubelet
 * (src/containerd/cri-config.ts: its section here is a plain node's, and init
 * rewrites it through the import for what only the booted node knows).
 */
export const CONTAINERD_CONFIG = `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt"]
imports = ["${CRI_CONFIG_IMPORTS}"]

[grpc]
  address = "/run/containerd/containerd.sock"

[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"

${criPluginToml(PLAIN_NODE)}`;

const FILES: Record<string, string> = {
  "etc/containerd/config.toml": CONTAINERD_CONFIG,
  "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
  // Written by init from the machine config's nameservers at boot.
  "etc/resolv.conf": "",
  "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
  "etc/group": "root:x:0:\nnobody:x:65534:\n",
  // Since glibc 2.34 the files service is built into libc: no libnss_*.so needed.
  "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n",
};

/** Writes /etc into `root`; os-release lives in /usr/lib with /etc/os-release pointing at it (os-release(5)). */
export function writeEtc(root: string, version: string): number {
  const files = { ...FILES, "usr/lib/os-release": osRelease(version) };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  symlinkSync("../usr/lib/os-release", join(root, "etc/os-release"));
  // containerd's CRI plugin watches the CNI config dir and creates it when it
  // is missing, which on a read-only rootfs fails the whole plugin.
  mkdirSync(join(root, CNI_CONF_DIR), { recursive: true });
  return Object.keys(files).length + 1;
}
