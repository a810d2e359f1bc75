// The node's kernel and modules: Debian 12's linux-image-amd64, whose
// metapackage names the real image package (linux-image-<kver>), fetched and
// unpacked into the git-ignored .cache by build/debs.ts. The initramfs gets
// only the modules the node needs (and their dependencies, from each module's
// own "depends=" modinfo), indexed by the package's depmod so modprobe and
// udevd find them.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fetchDebs } from "./debs.ts";

export const KERNEL_META = "linux-image-amd64";

/**
 * What the node loads: virtio devices (QEMU), overlayfs (containerd's
 * snapshotter), the bridge + br_netfilter + conntrack/NAT/iptables set a
 * Kubernetes node needs, veth, xfs and device-mapper (the disks Talos formats),
 * and the ACPI button driver with evdev (the hypervisor's power button, read
 * by init from /dev/input/eventN).
 */
export const NODE_MODULES = [
  "virtio_pci",
  "virtio_net",
  "virtio_blk",
  "virtio_scsi",
  "virtio_console",
  "virtio_rng",
  "overlay",
  "bridge",
  "br_netfilter",
  "veth",
  "nf_conntrack",
  "nf_nat",
  "ip_tables",
  "iptable_filter",
  "iptable_nat",
  "iptable_mangle",
  "iptable_raw",
  "ip6_tables",
  "ip6table_filter",
  "ip6table_nat",
  "ip6table_mangle",
  "xt_conntrack",
  "xt_MASQUERADE",
  "xt_addrtype",
  "xt_mark",
  "xt_comment",
  "xt_nat",
  "xt_multiport",
  "ipt_REJECT",
  "ip6t_REJECT",
  "xfs",
  // libcrc32c (xfs needs it) only soft-depends on a crc32c implementation, which the
  // dependency walk does not follow: without one its init fails and xfs cannot load.
  "crc32c_generic",
  "crc32c_intel",
  "dm_mod",
  "button",
  "evdev",
];

export interface Kernel {
  /** linux-image-<kver> */
  pkg: string;
  /** Debian version of the package, e.g. 6.1.176-1 */
  debVersion: string;
  /** uname -r, e.g. 6.1.0-50-amd64 */
  kver: string;
  vmlinuz: string;
  config: string;
  /** The package's /lib/modules/<kver> */
  modules: string;
}

function run(argv: string[], env?: Record<string, string>): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** Fetches (once; cached) the kernel package the metapackage points at. */
export function fetchKernel(): Kernel {
  const meta = fetchDebs([KERNEL_META]).get(KERNEL_META)!;
  const depends = run(["dpkg-deb", "-f", meta.file, "Depends"]);
  const pkg = /linux-image-[0-9][^\s,(]*/.exec(depends)?.[0];
  if (!pkg) throw new Error(`build: ${meta.file}: no linux-image-<kver> in Depends: ${depends.trim()}`);
  const deb = fetchDebs([pkg]).get(pkg)!;
  const kver = pkg.replace(/^linux-image-/, "");
  const k: Kernel = {
    pkg,
    debVersion: deb.version,
    kver,
    vmlinuz: join(deb.tree, "boot", `vmlinuz-${kver}`),
    config: join(deb.tree, "boot", `config-${kver}`),
    modules: join(deb.tree, "lib/modules", kver),
  };
  for (const f of [k.vmlinuz, k.config, k.modules]) if (!existsSync(f)) throw new Error(`build: ${pkg} lacks ${f}`);
  return k;
}

/** CONFIG_X values from the kernel's config ("y", "m", or undefined when unset). */
export function kernelConfig(k: Kernel): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(k.config, "utf8").split("\n")) {
    const kv = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (kv) m.set(kv[1]!, kv[2]!);
  }
  return m;
}

const norm = (name: string) => name.replace(/-/g, "_");

/** Module name -> path relative to lib/modules/<kver>, for every .ko in the package. */
function moduleIndex(k: Kernel): Map<string, string> {
  const idx = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) idx.set(norm(e.name.replace(/\.ko(\..*)?$/, "")), relative(k.modules, p));
    }
  };
  walk(join(k.modules, "kernel"));
  return idx;
}

/** The "depends=" field of an uncompressed module's .modinfo section. */
function moduleDepends(file: string): string[] {
  const buf = readFileSync(file);
  const at = buf.indexOf("\0depends=");
  if (at < 0) return [];
  const start = at + "\0depends=".length;
  const end = buf.indexOf(0, start);
  const v = buf.subarray(start, end).toString();
  return v ? v.split(",").map(norm) : [];
}

export interface ModuleSet {
  /** Modules copied (requested + dependencies). */
  loadable: string[];
  /** Requested modules the kernel has built in (nothing to copy). */
  builtin: string[];
}

/**
 * Stages lib/modules/<kver> under `root` with `wanted` and their dependencies,
 * the package's modules.order/builtin files, and depmod's indexes (run from
 * Debian's kmod, so the index format matches the node's modprobe).
 */
export function stageModules(k: Kernel, root: string, wanted = NODE_MODULES): ModuleSet {
  const idx = moduleIndex(k);
  const builtinList = readFileSync(join(k.modules, "modules.builtin"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => norm(l.split("/").pop()!.replace(/\.ko$/, "")));
  const builtinSet = new Set(builtinList);
  const loadable = new Set<string>();
  const builtin: string[] = [];
  const visit = (name: string, from?: string) => {
    const n = norm(name);
    if (loadable.has(n)) return;
    const rel = idx.get(n);
    if (!rel) {
      if (builtinSet.has(n)) return void (from ? null : builtin.push(n));
      throw new Error(`build: module ${n}${from ? ` (needed by ${from})` : ""} is neither in ${k.pkg} nor built in`);
    }
    loadable.add(n);
    for (const d of moduleDepends(join(k.modules, rel))) visit(d, n);
  };
  for (const w of wanted) visit(w);

  const dest = join(root, "lib/modules", k.kver);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const n of loadable) {
    const rel = idx.get(n)!;
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    copyFileSync(join(k.modules, rel), join(dest, rel));
  }
  for (const f of ["modules.order", "modules.builtin", "modules.builtin.modinfo"]) copyFileSync(join(k.modules, f), join(dest, f));
  depmod(root, k.kver);
  return { loadable: [...loadable].sort(), builtin };
}

/**
 * Runs depmod -b root kver with Debian's kmod (kmod is multicall by invoked
 * name; the host need not have kmod installed) and its libraries from the cache.
 */
function depmod(root: string, kver: string): void {
  const debs = fetchDebs(["kmod", "libzstd1", "liblzma5", "libssl3"]);
  const bin = join(debs.get("kmod")!.tree, "bin/kmod");
  const libPath = [...debs.values()].flatMap((d) => ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"].map((l) => join(d.tree, l))).join(":");
  const linkDir = join(root, ".depmod");
  mkdirSync(linkDir, { recursive: true });
  symlinkSync(bin, join(linkDir, "depmod"));
  try {
    run([join(linkDir, "depmod"), "-b", root, kver], { LD_LIBRARY_PATH: libPath });
  } finally {
    rmSync(linkDir, { recursive: true, force: true });
  }
  if (!existsSync(join(root, "lib/modules", kver, "modules.dep.bin"))) throw new Error(`build: depmod left no modules.dep.bin in ${root}`);
}
