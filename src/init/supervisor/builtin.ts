// The node's services: udevd, containerd, the dashboard on tty2 and the
// kubelet (a container of machine.kubelet.image, kubelet.ts), plus any extra
// services the config's minos.services extension declares (commands, or
// containers of an image).
import { existsSync } from "node:fs";
import type { ExtraService, MachineConfig } from "../config/machine.ts";
import { grpcHealth, socketExists } from "./health.ts";
import { serviceSpec, type ServiceSpec } from "./spec.ts";
import { KUBELET_CGROUP, KUBELET_OOM_SCORE, kubeletContainer } from "./kubelet.ts";
import { SYSTEM_NAMESPACE } from "../../images/pull.ts";
import { configFileMounts, writeConfigFiles } from "./extension-config.ts";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
/** containerd's root (build/etc.ts): content, metadata and snapshots; on an installed node on EPHEMERAL. */
export const CONTAINERD_ROOT = "/var/lib/containerd";
export const UDEVD_CONTROL = "/run/udev/control";
export const DASHBOARD_TTY = "/dev/tty2";

/** A binary the rootfs must carry: the reason to skip when it does not. */
const missing = (path: string) => (existsSync(path) ? undefined : `${path} is not in the rootfs`);

export function builtinServices(cfg: MachineConfig, sandbox: boolean): ServiceSpec[] {
  return [
    serviceSpec({
      id: "udevd",
      dependsOn: [],
      // Talos in container mode skips udevd for the same reason.
      precondition: () => (sandbox ? "sandbox: uevents do not reach a network namespace, so udevd has nothing to do" : missing("/sbin/udevd")),
      command: ["/sbin/udevd", "--resolve-names=never"],
      droppedCaps: ["CAP_SYS_BOOT"],
      cgroup: "system/udevd",
      oomScore: -999,
      health: socketExists(UDEVD_CONTROL),
    }),
    serviceSpec({
      id: "containerd",
      dependsOn: ["udevd"],
      precondition: () => missing("/bin/containerd"),
      command: ["/bin/containerd", "--config", "/etc/containerd/config.toml", "--address", CONTAINERD_SOCKET],
      droppedCaps: ["CAP_SYS_BOOT", "CAP_SYS_MODULE"],
      cgroup: "system/runtime",
      oomScore: -999,
      stopGraceMs: 10_000,
      // The runc shims live in this cgroup: a containerd crash must not take the running containers with it.
      killCgroupOnExit: false,
      health: grpcHealth(CONTAINERD_SOCKET),
    }),
    serviceSpec({
      id: "dashboard",
      dependsOn: [],
      precondition: () => (existsSync(DASHBOARD_TTY) ? undefined : `no console: ${DASHBOARD_TTY} does not exist${sandbox ? " in the sandbox" : ""}`),
      command: ["/sbin/dashboard", "--console"],
      env: { TERM: "linux" },
      droppedCaps: ["CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"],
      cgroup: "system/dashboard",
      oomScore: -400,
      tty: DASHBOARD_TTY,
    }),
    kubeletService(cfg),
  ];
}

/**
 * minos.services (a minos extension, not Talos): extra supervised commands, each
 * in its own /system/extra/<id> cgroup. A subtree of their own, not /system/<id>:
 * the built-in cgroups (/system/runtime is containerd's) are named apart from the
 * service ids, so an extra service called "runtime" would otherwise share
 * containerd's cgroup, and the cgroup.kill after its exit would take containerd down.
 */
export const EXTRA_CGROUP = "system/extra";

/** Talos's extension services' oom score. */
export const EXTENSION_OOM_SCORE = -600;

export function extraServices(cfg: MachineConfig): ServiceSpec[] {
  return cfg.minos.services.map((s: ExtraService) => (s.image !== undefined ? imageService(cfg, s, s.image) : commandService(s)));
}

/**
 * An extension service as Talos runs one: a container in the "system"
 * namespace, host network, every capability and device, read-only rootfs,
 * oom score -600; its mounts, env (over machine.env) and restart policy; and
 * the ExtensionServiceConfig document of its name: its files written before
 * every start and mounted read-only, its environment last (it wins).
 */
function imageService(cfg: MachineConfig, s: ExtraService, image: string): ServiceSpec {
  const doc = cfg.extensionServiceConfigs?.find((d) => d.name === s.id);
  return serviceSpec({
    id: s.id,
    dependsOn: s.dependsOn.includes("containerd") ? s.dependsOn : ["containerd", ...s.dependsOn],
    precondition: () => missing("/bin/containerd"),
    command: s.command,
    cgroup: `${EXTRA_CGROUP}/${s.id}`,
    oomScore: EXTENSION_OOM_SCORE,
    restart: s.restart,
    backoff: s.backoff,
    backoffResetMs: Math.max(10_000, s.backoff.maxMs * 2),
    stopGraceMs: s.stopGraceMs,
    console: s.console,
    container: {
      image,
      namespace: SYSTEM_NAMESPACE,
      ...(s.command.length ? { args: s.command } : {}),
      env: [...Object.entries({ ...cfg.machine.env, ...s.env }).map(([k, v]) => `${k}=${v}`), ...(doc?.environment ?? [])],
      mounts: [
        ...s.mounts.map((m) => ({ source: m.source, destination: m.destination, type: m.type, options: m.options })),
        ...(doc ? configFileMounts(doc) : []),
      ],
      hostNamespaces: ["network"],
      capabilities: "all",
      allDevices: true,
      noNewPrivileges: false,
      readonlyRootfs: true,
    },
    ...(doc?.configFiles.length ? { prepare: async () => void writeConfigFiles(doc) } : {}),
  });
}

function commandService(s: ExtraService): ServiceSpec {
  return serviceSpec({
    id: s.id,
    dependsOn: s.dependsOn,
    precondition: () => missing(s.command[0]!),
    command: s.command,
    env: s.env,
    droppedCaps: ["CAP_SYS_BOOT", "CAP_SYS_MODULE"],
    cgroup: `${EXTRA_CGROUP}/${s.id}`,
    oomScore: 0,
    restart: s.restart,
    backoff: s.backoff,
    backoffResetMs: Math.max(10_000, s.backoff.maxMs * 2),
    stopGraceMs: s.stopGraceMs,
    console: s.console,
  });
}

/**
 * The kubelet runs once the config has a cluster to join (Talos's kubelet
 * needs the cluster's settings); it is not awaited by the boot's "all services
 * healthy" (Talos starts it from the Kubernetes controllers, not the boot).
 */
function kubeletService(cfg: MachineConfig): ServiceSpec {
  const { container, refused } = kubeletContainer(cfg, cfg.machine.network.hostname);
  const hasCluster = (cfg as { cluster?: unknown }).cluster !== undefined;
  return serviceSpec({
    id: "kubelet",
    dependsOn: ["containerd"],
    precondition: () => {
      if (!hasCluster) return `no cluster section in the machine config: no cluster for a kubelet to join (machine.kubelet.image ${cfg.machine.kubelet.image})`;
      if (refused.length) return `machine.kubelet.extraArgs may not set ${refused.join(", ")} (Talos refuses them too)`;
      return missing("/bin/containerd");
    },
    command: container.args!,
    cgroup: KUBELET_CGROUP,
    oomScore: KUBELET_OOM_SCORE,
    restart: "always",
    container,
    awaitedAtBoot: false,
  });
}
