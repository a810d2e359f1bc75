// The upstream half of the rootfs: the eleven binaries Talos 1.7 ships beside
// its init (seed/talos-linux-12-binaries.txt), taken from Debian 12 packages and
// placed at Talos's paths, plus the shared libraries and data they need.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fetchDebs, type Deb } from "./debs.ts";
import { writeEtc } from "./etc.ts";
import { lddMany } from "./elf.ts";
import { installLibs } from "./libs.ts";
import { CNI_BIN_DIR } from "../src/containerd/cri-config.ts";
import pkgJson from "../package.json";

interface Binary {
  pkg: string;
  /** Path inside the package. */
  from: string;
  /** Talos's path in the rootfs. */
  to: string;
}

/** Each upstream binary: which Debian 12 package has it, and where Talos puts it. */
export const BINARIES: Binary[] = [
  { pkg: "containerd", from: "usr/bin/containerd", to: "/bin/containerd" },
  { pkg: "containerd", from: "usr/bin/containerd-shim-runc-v2", to: "/bin/containerd-shim-runc-v2" },
  // The legacy (v1) shim: Talos 1.7 still ships it; Debian's containerd 1.6 has it.
  { pkg: "containerd", from: "usr/bin/containerd-shim", to: "/bin/containerd-shim" },
  { pkg: "runc", from: "usr/sbin/runc", to: "/bin/runc" },
  // Debian builds udevd into udevadm, which runs the daemon when its invoked
  // name contains "udevd" (systemd's invoked_as()): /sbin/udevd qualifies.
  { pkg: "udev", from: "bin/udevadm", to: "/sbin/udevd" },
  // kmod is multicall by invoked name as well; only the modprobe name is needed.
  { pkg: "kmod", from: "bin/kmod", to: "/sbin/modprobe" },
  { pkg: "lvm2", from: "sbin/lvm", to: "/sbin/lvm" },
  { pkg: "dmsetup", from: "sbin/dmsetup", to: "/sbin/dmsetup" },
  { pkg: "xfsprogs", from: "sbin/mkfs.xfs", to: "/sbin/mkfs.xfs" },
  { pkg: "xfsprogs", from: "sbin/xfs_repair", to: "/sbin/xfs_repair" },
  { pkg: "iptables", from: "usr/sbin/xtables-legacy-multi", to: "/sbin/xtables-legacy-multi" },
];

/**
 * CNI plugins for containerd's CRI plugin (pod networks), from Debian's
 * containernetworking-plugins, at Talos's /opt/cni/bin: outside /bin and /sbin,
 * so the seed's twelve stays twelve (Talos ships its CNI plugins there too, and
 * a cluster's CNI installer adds its own beside them). The smallest set a
 * bridge network needs: bridge, the host-local IPAM, loopback (CRI sets up each
 * pod's lo with it), and portmap for hostPort. CNI_BIN_DIR is the CRI config's bin_dir.
 */
export const CNI_PACKAGE = "containernetworking-plugins";
export const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"];

/**
 * The names xtables-legacy-multi answers to, as symlinks beside it. The seed
 * counts twelve iptables symlinks on Talos: the plain and the -legacy names.
 */
export const XTABLES_LINKS = ["iptables", "ip6tables"].flatMap((t) =>
  ["", "-legacy"].flatMap((l) => ["", "-save", "-restore"].map((s) => `/sbin/${t}${l}${s}`)),
);

/**
 * Packages that only provide shared libraries: the closure of the binaries'
 * DT_NEEDED outside glibc (checked by installUpstream: anything else resolved
 * from the host fails the build, so the rootfs never depends on what happens to
 * be installed on the build machine).
 */
export const LIB_PACKAGES = [
  "libseccomp2", // runc
  "libkmod2",
  "libacl1",
  "libblkid1",
  "libcap2",
  "libselinux1",
  "libpcre2-8-0", // udevd
  "libzstd1",
  "liblzma5",
  "libssl3", // modprobe
  "libdevmapper1.02.1",
  "libdevmapper-event1.02.1",
  "libedit2",
  "libbsd0",
  "libmd0",
  "libtinfo6",
  "libsystemd0",
  "libgcrypt20",
  "libgpg-error0",
  "liblz4-1",
  "libaio1",
  "libudev1", // lvm, dmsetup
  "libuuid1",
  "libinih1",
  "liburcu8", // mkfs.xfs, xfs_repair
  "libxtables12",
  "libip4tc2",
  "libip6tc2",
  "libnetfilter-conntrack3",
  "libnfnetlink0",
  "libmnl0", // iptables
];

/**
 * glibc comes from the host: init (build/rootfs.ts) already takes it from there,
 * and the loader and libc must be one version. Debian 12 host, Debian 12 packages.
 */
const GLIBC = new Set(["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2", "libutil.so.1"]);

/** libxtables' compiled-in plugin directory (the plugins ship in the iptables package). */
const XTABLES_DIR = "usr/lib/x86_64-linux-gnu/xtables";

/** Data the binaries read at run time: [package, directory in it, directory in the rootfs]. */
const DATA: [string, string, string][] = [
  ["udev", "lib/udev/rules.d", "usr/lib/udev/rules.d"],
  // device-mapper's rules: udev sync for dmsetup/lvm, /dev/mapper and /dev/<vg> names.
  ["dmsetup", "lib/udev/rules.d", "usr/lib/udev/rules.d"],
  // iptables matches and targets are plugins dlopen()ed from this compiled-in path.
  ["iptables", XTABLES_DIR, XTABLES_DIR],
];
/** lvm2's 56-lvm.rules only (its 69-lvm.rules autoactivates through systemd-run). */
const LVM_RULES = "lib/udev/rules.d/56-lvm.rules";

export interface UpstreamResult {
  debs: Deb[];
  binaries: number;
  /** CNI plugins installed under CNI_BIN_DIR. */
  cniPlugins: number;
  /** Library paths (as in the rootfs) copied in for the upstream binaries. */
  libs: string[];
  /** Files written under /etc (and os-release). */
  etc: number;
}

function packageNames(): string[] {
  return [...new Set([...BINARIES.map((b) => b.pkg), ...DATA.map((d) => d[0]), "lvm2", CNI_PACKAGE, ...LIB_PACKAGES])];
}

/** Where a package keeps libraries: the search path handed to ldd. */
function libDirs(debs: Iterable<Deb>): string[] {
  const dirs: string[] = [];
  for (const d of debs) {
    for (const sub of ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"]) {
      if (existsSync(join(d.tree, sub))) dirs.push(join(d.tree, sub));
    }
  }
  return dirs;
}

/**
 * Copies the libraries `elfs` need into `root`: from an unpacked package at the
 * path it has there, or glibc from the host. Returns the rootfs paths added.
 */
function installNeeded(root: string, elfs: string[], debs: Deb[], env: Record<string, string>): string[] {
  const added: string[] = [];
  for (const [elf, paths] of lddMany(elfs, env)) {
    for (const path of paths) {
      const owner = debs.find((d) => path.startsWith(d.tree + "/"));
      if (owner) {
        const inRoot = path.slice(owner.tree.length);
        const dest = join(root, inRoot);
        if (existsSync(dest)) continue;
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(path, dest); // dereferences the soname symlink
        added.push(inRoot);
      } else if (GLIBC.has(basename(path))) {
        added.push(...installLibs(root, [path]));
      } else {
        throw new Error(`build: ${elf} needs ${path} from the host; add the Debian package that ships ${basename(path)} to LIB_PACKAGES in build/packages.ts`);
      }
    }
  }
  return added;
}

/** Copies a flat directory, keeping symlinks as the package has them (relative, in-directory). */
function copyDir(src: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    const st = lstatSync(from);
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), join(dest, name));
    else if (st.isFile()) copyFileSync(from, join(dest, name));
    else throw new Error(`build: unexpected ${from} (not a file or symlink)`);
  }
}

/** Fetches the packages and lays their binaries, libraries and data into `root`, then /etc. */
export function installUpstream(root: string): UpstreamResult {
  const byName = fetchDebs(packageNames());
  const debs = [...byName.values()];
  const deb = (name: string): Deb => {
    const d = byName.get(name);
    if (!d) throw new Error(`build: package ${name} not fetched`);
    return d;
  };
  const env = { LD_LIBRARY_PATH: libDirs(debs).join(":") };
  const libs: string[] = [];

  for (const b of BINARIES) {
    const dest = join(root, b.to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(join(deb(b.pkg).tree, b.from), dest);
  }
  libs.push(
    ...installNeeded(
      root,
      BINARIES.map((b) => join(deb(b.pkg).tree, b.from)),
      debs,
      env,
    ),
  );
  for (const l of XTABLES_LINKS) symlinkSync("xtables-legacy-multi", join(root, l));

  for (const [pkg, from, to] of DATA) {
    copyDir(join(deb(pkg).tree, from), join(root, to));
  }
  copyFileSync(join(deb("lvm2").tree, LVM_RULES), join(root, "usr/lib/udev/rules.d", basename(LVM_RULES)));
  // The xtables plugins are ELF too: their own DT_NEEDED (libnetfilter_conntrack…) must be present.
  const xt = join(deb("iptables").tree, XTABLES_DIR);
  libs.push(
    ...installNeeded(
      root,
      readdirSync(xt).map((so) => join(xt, so)),
      debs,
      env,
    ),
  );

  const cni = CNI_PLUGINS.map((p) => join(deb(CNI_PACKAGE).tree, "usr/lib/cni", p));
  mkdirSync(join(root, CNI_BIN_DIR), { recursive: true });
  for (const from of cni) copyFileSync(from, join(root, CNI_BIN_DIR, basename(from)));
  libs.push(...installNeeded(root, cni, debs, env));

  const etc = writeEtc(root, pkgJson.version);
  return { debs, binaries: BINARIES.length, cniPlugins: CNI_PLUGINS.length, libs, etc };
}

/**
 * The seed's census of /bin and /sbin: entries (files and symlinks, not
 * directories) and unique files (distinct inodes of regular files, so the five
 * minos hard links count once and symlinks not at all).
 */
export function countBins(root: string): { unique: number; entries: number } {
  const inodes = new Set<string>();
  let entries = 0;
  for (const dir of ["bin", "sbin"]) {
    for (const name of readdirSync(join(root, dir))) {
      const st = lstatSync(join(root, dir, name));
      if (st.isDirectory()) continue;
      entries++;
      if (st.isFile()) inodes.add(`${st.dev}:${st.ino}`);
    }
  }
  return { unique: inodes.size, entries };
}
