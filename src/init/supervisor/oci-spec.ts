// The OCI runtime spec (runtime-spec config.json) of a service container, as
// minos builds it: containerd's default Linux spec (the namespaces, the
// /proc /dev /sys mounts, masked and read-only paths, the default capability
// set, RLIMIT_NOFILE 1024) with the service's process, mounts, host
// namespaces, capabilities, cgroup path inside minos's tree and oom score on
// top. What containerd's client does with oci.SpecOpts, as data: one
// function, pure, unit-tested.
import type { ImageProcessConfig } from "../../images/pull.ts";

export type HostNamespace = "network" | "pid" | "ipc" | "uts";

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
  /** Left out (with a logged reason) when the source does not exist on the node. */
  optional?: boolean;
}

export interface Rlimit {
  type: string;
  hard: number;
  soft: number;
}

/** How a service's container is made: the image, and what Talos's runner options say. */
export interface ContainerRunSpec {
  image: string;
  /** containerd namespace (Talos: "system" for system containers). */
  namespace: string;
  /** The whole argv; absent: the image's entrypoint + cmd. */
  args?: string[];
  /** Entrypoint override (Talos's ExtensionServiceConfig container.entrypoint); args then follow it. */
  entrypoint?: string[];
  /** KEY=value, over the image's own. */
  env: string[];
  cwd?: string;
  /** "uid[:gid]"; absent: the image's (numeric only), else root. */
  user?: string;
  mounts: OciMount[];
  hostNamespaces: HostNamespace[];
  /** Capability names; "all": every one containerd can grant (Talos's AllGrantableCapabilities). Absent: containerd's default set. */
  capabilities?: string[] | "all";
  rlimits?: Rlimit[];
  noNewPrivileges: boolean;
  rootfsPropagation?: "shared" | "slave" | "private" | "rshared" | "rslave" | "rprivate";
  readonlyRootfs?: boolean;
  /** The privileged bits Talos gives the kubelet: writable /sys and cgroupfs, no masked/read-only paths, every device. */
  privileged?: boolean;
  /** Every device allowed in the device cgroup (Talos's WithAllDevicesAllowed; implied by privileged). */
  allDevices?: boolean;
}

/** containerd's default capability set (oci.defaultUnixCaps). */
export const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

function defaultMounts(privileged: boolean): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"] },
    { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"] },
  ];
}

/** The image's user as uid/gid: numeric "uid[:gid]" only (names would need the image's /etc/passwd). */
export function parseUser(user: string | undefined): { uid: number; gid: number } {
  if (user === undefined || user === "" || user === "root" || user === "0") return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) throw new Error(`user "${user}": only numeric uid[:gid] is supported`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
}

/** KEY=value lists merged: later keys replace earlier ones, order of first appearance kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const out = new Map<string, string>();
  for (const l of lists)
    for (const kv of l) {
      const eq = kv.indexOf("=");
      out.set(eq < 0 ? kv : kv.slice(0, eq), kv);
    }
  return [...out.values()];
}

export interface SpecContext {
  id: string;
  /** linux.cgroupsPath: the service's cgroup in the hierarchy (cgroups.path(spec.cgroup)). */
  cgroupsPath: string;
  /** Undefined: leave the process's oom_score_adj as inherited. */
  oomScore?: number;
  /** What "all" means: the capabilities in containerd's bounding set (it cannot grant others). */
  grantable: string[];
}

/** The OCI runtime spec object for containerd's Containers.Create. */
export function runtimeSpec(c: ContainerRunSpec, image: ImageProcessConfig, ctx: SpecContext): Record<string, unknown> {
  const args = c.args ?? [...(c.entrypoint ?? image.entrypoint), ...(c.entrypoint ? [] : image.cmd)];
  if (args.length === 0) throw new Error(`container ${ctx.id}: no command (the image ${c.image} has no entrypoint or cmd, and the service gives none)`);
  const caps = c.capabilities === "all" ? ctx.grantable : (c.capabilities ?? DEFAULT_CAPS);
  const privileged = c.privileged === true;
  const user = parseUser(c.user ?? image.user);
  const hostNs = new Set(c.hostNamespaces);
  const namespaces = (["pid", "ipc", "uts", "mount", "network"] as const).filter((n) => n === "mount" || !hostNs.has(n)).map((type) => ({ type }));
  // A later mount on the same destination replaces the default (containerd's WithMounts does the same).
  const given = new Set(c.mounts.map((m) => m.destination));
  // privileged: /sys writable (Talos's WithWriteableSysfs flips the sysfs mount's ro).
  const mounts = [...defaultMounts(privileged).filter((m) => !given.has(m.destination)), ...c.mounts].map((m) => ({
    destination: m.destination,
    type: m.type,
    source: m.source,
    options: privileged && m.type === "sysfs" ? m.options.map((o) => (o === "ro" ? "rw" : o)) : m.options,
  }));
  const process: Record<string, unknown> = {
    terminal: false,
    user: { uid: user.uid, gid: user.gid },
    args,
    env: mergeEnv([DEFAULT_PATH], image.env, c.env),
    cwd: c.cwd ?? (image.workingDir || "/"),
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits: c.rlimits ?? [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    noNewPrivileges: c.noNewPrivileges,
  };
  if (ctx.oomScore !== undefined) process.oomScoreAdj = ctx.oomScore;
  const linux: Record<string, unknown> = {
    namespaces,
    cgroupsPath: ctx.cgroupsPath,
    // Only the device rule: no cpu/memory/pids settings (minos sets no limits; a host without those controllers could not apply them).
    resources: { devices: [{ allow: privileged || c.allDevices === true, access: "rwm" }] },
    maskedPaths: privileged ? [] : MASKED_PATHS,
    readonlyPaths: privileged ? [] : READONLY_PATHS,
  };
  if (c.rootfsPropagation) linux.rootfsPropagation = c.rootfsPropagation;
  const spec: Record<string, unknown> = {
    ociVersion: "1.0.2-dev",
    process,
    root: { path: "rootfs", readonly: c.readonlyRootfs === true },
    mounts,
    linux,
  };
  if (!hostNs.has("uts")) spec.hostname = ctx.id;
  return spec;
}
