// The node's services: udevd, containerd, the dashboard on tty2 and the
// kubelet (declared, skipped while minos cannot run it), plus any extra
// services the config's minos.services extension declares.
import { existsSync } from "node:fs";
import type { ExtraService, MachineConfig } from "../config/machine.ts";
import { grpcHealth, socketExists } from "./health.ts";
import { serviceSpec, type ServiceSpec } from "./spec.ts";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
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
    serviceSpec({
      id: "kubelet",
      dependsOn: ["containerd"],
      // Talos runs the kubelet as a container of its image; minos does not pull images.
      precondition: () => `no kubelet image available offline (machine.kubelet.image ${cfg.machine.kubelet.image}); minos does not pull images`,
      command: ["/bin/kubelet", ...Object.entries(cfg.machine.kubelet.extraArgs).map(([k, v]) => `--${k}=${v}`)],
      droppedCaps: [],
      cgroup: "podruntime/kubelet",
      oomScore: -450,
    }),
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

export function extraServices(cfg: MachineConfig): ServiceSpec[] {
  return cfg.minos.services.map((s: ExtraService) =>
    serviceSpec({
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
    }),
  );
}
