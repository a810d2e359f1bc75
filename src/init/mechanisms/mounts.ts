// Filesystems: the early mounts of the boot (a table, so the order is visible)
// and the unmount-everything of a shutdown, driven by /proc/self/mountinfo.
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { mknodChar } from "../../sys/fs.ts";
import { MNT, MS, mount, umount } from "../../sys/mount.ts";
import { errText } from "./log.ts";
import { unescapeMountField } from "../../lib/mountinfo.ts";

export interface MountSpec {
  target: string;
  source: string;
  fstype: string;
  flags: number;
  data: string | null;
}

const NOSUID_NODEV_NOEXEC = MS.NOSUID | MS.NODEV | MS.NOEXEC;

/**
 * What the boot mounts, in order. In the sandbox /dev is a tmpfs (devtmpfs is
 * the host's devices) and cgroup2 is mounted without options: a cgroup2 mount
 * in the initial cgroup namespace applies its options (nsdelegate,
 * memory_recursiveprot) to the one hierarchy the host shares. The sandbox
 * launcher gives the node a cgroup namespace, where the kernel ignores them,
 * but a sandbox started some other way must not change the host either.
 */
export function earlyMounts(sandbox: boolean): MountSpec[] {
  return [
    { target: "/proc", source: "proc", fstype: "proc", flags: NOSUID_NODEV_NOEXEC, data: null },
    { target: "/sys", source: "sysfs", fstype: "sysfs", flags: NOSUID_NODEV_NOEXEC, data: null },
    sandbox
      ? { target: "/dev", source: "tmpfs", fstype: "tmpfs", flags: MS.NOSUID, data: "mode=0755,size=4m" }
      : { target: "/dev", source: "devtmpfs", fstype: "devtmpfs", flags: MS.NOSUID, data: "mode=0755" },
    { target: "/dev/pts", source: "devpts", fstype: "devpts", flags: MS.NOSUID | MS.NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620,gid=5" },
    { target: "/dev/shm", source: "tmpfs", fstype: "tmpfs", flags: NOSUID_NODEV_NOEXEC, data: "mode=1777" },
    { target: "/run", source: "tmpfs", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=0755" },
    { target: "/tmp", source: "tmpfs", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=1777" },
    { target: "/var", source: "tmpfs", fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: "mode=0755" },
    {
      target: "/sys/fs/cgroup",
      source: "cgroup2",
      fstype: "cgroup2",
      flags: NOSUID_NODEV_NOEXEC,
      data: sandbox ? null : "nsdelegate,memory_recursiveprot",
    },
  ];
}

export function mountOne(m: MountSpec): void {
  mkdirSync(m.target, { recursive: true });
  mount(m.source, m.target, m.fstype, m.flags, m.data);
}

/** The basic nodes of a tmpfs /dev (devtmpfs has them itself). No /dev/kmsg: in a sandbox it is the host's log. */
export const BASIC_DEV_NODES: [name: string, perm: number, major: number, minor: number][] = [
  ["null", 0o666, 1, 3],
  ["zero", 0o666, 1, 5],
  ["full", 0o666, 1, 7],
  ["random", 0o666, 1, 8],
  ["urandom", 0o666, 1, 9],
  ["tty", 0o666, 5, 0],
];

export function populateDev(): string[] {
  const made: string[] = [];
  for (const [name, perm, major, minor] of BASIC_DEV_NODES) {
    const path = `/dev/${name}`;
    if (existsSync(path)) continue;
    mknodChar(path, perm, major, minor);
    chmodSync(path, perm); // the umask trimmed mknod's mode
    made.push(path);
  }
  const links: [string, string][] = [
    ["/proc/self/fd", "/dev/fd"],
    ["/proc/self/fd/0", "/dev/stdin"],
    ["/proc/self/fd/1", "/dev/stdout"],
    ["/proc/self/fd/2", "/dev/stderr"],
    ["pts/ptmx", "/dev/ptmx"],
  ];
  for (const [to, at] of links) if (!existsSync(at)) symlinkSync(to, at);
  return made;
}

export interface MountEntry {
  id: number;
  parent: number;
  target: string;
  fstype: string;
}

/** /proc/self/mountinfo, in mount order (a chroot sees only the mounts below its root). */
export function mountTable(text = readFileSync("/proc/self/mountinfo", "utf8")): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const dash = f.indexOf("-");
    out.push({ id: Number(f[0]), parent: Number(f[1]), target: unescapeMountField(f[4] ?? ""), fstype: f[dash + 1] ?? "" });
  }
  return out;
}

export interface UnmountReport {
  unmounted: string[];
  detached: string[];
  failed: string[];
}

/**
 * Unmounts every mount but / in reverse mount order; a busy one is retried,
 * then detached (MNT_DETACH) as a last resort. `keep` mounts (e.g. /proc while
 * the caller still needs to read mountinfo) are left alone.
 */
export function unmountAll(keep: readonly string[] = []): UnmountReport {
  const report: UnmountReport = { unmounted: [], detached: [], failed: [] };
  const entries = mountTable().filter((m) => m.target !== "/" && !keep.includes(m.target));
  // mountinfo lists mounts in mount order, every child after its parent:
  // walking it backwards unmounts children first.
  const order = entries.map((e) => e.target).reverse();
  for (const target of order) {
    try {
      umount(target);
      report.unmounted.push(target);
    } catch {
      try {
        umount(target, MNT.DETACH);
        report.detached.push(target);
      } catch (e) {
        report.failed.push(`${target}: ${errText(e)}`);
      }
    }
  }
  return report;
}

/** Detaches one mount, falling back to MNT_DETACH; returns how it went. */
export function unmountOne(target: string): "unmounted" | "detached" {
  try {
    umount(target);
    return "unmounted";
  } catch {
    umount(target, MNT.DETACH);
    return "detached";
  }
}
