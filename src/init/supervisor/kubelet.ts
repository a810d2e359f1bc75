// The kubelet as Talos 1.7 runs it (internal/app/machined/pkg/system/services/
// kubelet.go and the kubelet spec controller): a container of
// machine.kubelet.image in containerd's "system" namespace, host network and
// PID namespaces, cgroup /podruntime/kubelet, oom score -450, every
// capability, writable /sys and cgroupfs, every device, shared rootfs
// propagation, Talos's mounts and default flags, extraArgs and extraMounts.
import type { MachineConfig } from "../config/machine.ts";
import type { ContainerRunSpec, OciMount } from "./oci-spec.ts";
import { SYSTEM_NAMESPACE } from "../../images/pull.ts";

export const KUBELET_BIN = "/usr/local/bin/kubelet";
export const KUBELET_CGROUP = "podruntime/kubelet";
export const KUBELET_OOM_SCORE = -450;
/** Talos's CRIContainerdAddress; minos runs one containerd (docs/containers.md). */
export const CRI_SOCKET = "/run/containerd/containerd.sock";

const rw = (p: string, src = p): OciMount => ({ type: "bind", destination: p, source: src, options: ["rbind", "rshared", "rw"] });
const ro = (p: string, optional = false): OciMount => ({ type: "bind", destination: p, source: p, options: ["bind", "ro"], ...(optional ? { optional } : {}) });

/** Talos's kubelet mounts, in its order. Files and directories the node may not have are optional (left out, logged). */
export function kubeletMounts(): OciMount[] {
  return [
    rw("/dev"),
    { type: "sysfs", destination: "/sys", source: "/sys", options: ["bind", "ro"] },
    rw("/sys/fs/cgroup"),
    ro("/lib/modules", true),
    rw("/etc/kubernetes"),
    ro("/usr/local/lib/kubelet/credentialproviders", true),
    ro("/etc/nfsmount.conf", true),
    ro("/etc/machine-id", true),
    ro("/etc/os-release", true),
    ro("/system/resolved/resolv.conf", true),
    rw("/etc/cni"),
    { ...rw("/usr/libexec/kubernetes"), optional: true },
    rw("/var/run", "/run"),
    rw("/var/lib/containerd"),
    rw("/var/lib/kubelet"),
    rw("/var/log/containers"),
    rw("/var/log/pods"),
  ];
}

/** Flags the kubelet's extraArgs may not replace (Talos's MergeDenied). */
const DENIED = ["bootstrap-kubeconfig", "kubeconfig", "container-runtime", "container-runtime-endpoint", "config", "cert-dir"];

/** Talos's default flags merged with extraArgs, as "--key=value" sorted by key (Talos's argsbuilder). */
export function kubeletArgs(cfg: MachineConfig, hostname: string): { args: string[]; refused: string[] } {
  const args: Record<string, string> = {
    config: "/etc/kubernetes/kubelet.yaml",
    "cert-dir": "/var/lib/kubelet/pki",
    "hostname-override": hostname,
    "bootstrap-kubeconfig": "/etc/kubernetes/bootstrap-kubeconfig",
    kubeconfig: "/etc/kubernetes/kubeconfig-kubelet",
  };
  const refused: string[] = [];
  for (const [k, v] of Object.entries(cfg.machine.kubelet.extraArgs)) {
    if (DENIED.includes(k)) refused.push(k);
    else args[k] = v;
  }
  return {
    args: Object.keys(args)
      .sort()
      .map((k) => `--${k}=${args[k]}`),
    refused,
  };
}

export function kubeletContainer(cfg: MachineConfig, hostname: string): { container: ContainerRunSpec; refused: string[] } {
  const { args, refused } = kubeletArgs(cfg, hostname);
  const extra: OciMount[] = (cfg.machine.kubelet.extraMounts ?? []).map((m) => ({
    destination: m.destination,
    type: m.type ?? "bind",
    source: m.source ?? m.destination,
    options: m.options ?? ["rbind", "rshared", "rw"],
  }));
  return {
    refused,
    container: {
      image: cfg.machine.kubelet.image,
      namespace: SYSTEM_NAMESPACE,
      args: [KUBELET_BIN, ...args],
      env: Object.entries(cfg.machine.env).map(([k, v]) => `${k}=${v}`),
      mounts: [...kubeletMounts(), ...extra],
      hostNamespaces: ["network", "pid"],
      capabilities: "all",
      noNewPrivileges: false,
      rootfsPropagation: "shared",
      privileged: true,
      allDevices: true,
    },
  };
}
