// Realistic node samples for the dashboard's unit tests (and the README captures).
import type { NodeSample, ProcessSample } from "../../src/applets/dashboard/source.ts";
import { applySample, initialState, type DashboardState } from "../../src/applets/dashboard/state.ts";

export const T0 = Date.UTC(2025, 0, 15, 10, 30, 0);

const CONFIG = `version: v1alpha1
machine:
  type: controlplane
  token: "******"
  network:
    hostname: node-1
    interfaces:
      - interface: eth0
        dhcp: true
  install:
    disk: /dev/sda
  sysctls:
    net.ipv4.ip_forward: "1"
  kubelet:
    image: ghcr.io/siderolabs/kubelet:v1.31.0
cluster:
  clusterName: demo
  controlPlane:
    endpoint: https://10.5.0.2:6443
  network:
    podSubnets:
      - 10.244.0.0/16
    serviceSubnets:
      - 10.96.0.0/12
`;

function procs(step: number): ProcessSample[] {
  // cpuSeconds grow at different speeds so CPU order differs from memory order.
  return [
    { pid: 1, state: "S", threads: 9, cpuSeconds: 12 + 0.02 * step, residentBytes: 48 << 20, command: "init", args: "/sbin/init" },
    {
      pid: 212,
      state: "S",
      threads: 14,
      cpuSeconds: 30 + 0.9 * step,
      residentBytes: 61 << 20,
      command: "containerd",
      args: "/bin/containerd --address /system/run/containerd/containerd.sock",
    },
    { pid: 230, state: "S", threads: 3, cpuSeconds: 2 + 0.01 * step, residentBytes: 9 << 20, command: "udevd", args: "/sbin/udevd --resolve-names=never" },
    {
      pid: 512,
      state: "R",
      threads: 22,
      cpuSeconds: 100 + 1.2 * step,
      residentBytes: 142 << 20,
      command: "kubelet",
      args: "/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet.yaml",
    },
    {
      pid: 640,
      state: "S",
      threads: 31,
      cpuSeconds: 80 + 0.3 * step,
      residentBytes: 412 << 20,
      command: "etcd",
      args: "/usr/local/bin/etcd --data-dir=/var/lib/etcd",
    },
    {
      pid: 701,
      state: "S",
      threads: 7,
      cpuSeconds: 5 + 0.05 * step,
      residentBytes: 24 << 20,
      command: "containerd-shim",
      args: "/bin/containerd-shim-runc-v2 -namespace k8s.io -id 4f2a",
    },
  ];
}

export function sample(step: number, over: Partial<NodeSample> = {}): NodeSample {
  return {
    hostname: "node-1",
    version: "v0.1.0 (3f9c2d1)",
    kernel: "6.1.0-18-amd64",
    bootTime: T0 - (2 * 3600 + 3 * 60) * 1000,
    cpu: { busy: 1000 + step * (40 + (step % 5) * 25), total: 10000 + step * 400 },
    cpuCount: 4,
    memory: { totalBytes: 8 * 2 ** 30, availableBytes: 8 * 2 ** 30 - (1.4 + 0.02 * step) * 2 ** 30 },
    load: [0.42, 0.35, 0.3],
    processCount: 142,
    services: [
      { id: "apid", state: "Running", healthy: true, message: "Health check successful" },
      { id: "containerd", state: "Running", healthy: true, message: "Health check successful" },
      { id: "cri", state: "Running", healthy: true, message: "Health check successful" },
      { id: "etcd", state: "Running", healthy: true, message: "Health check successful" },
      { id: "kubelet", state: "Running", healthy: true, message: "Health check successful" },
      { id: "machined", state: "Running", healthy: undefined, message: "Service started as goroutine" },
      { id: "trustd", state: "Waiting", healthy: undefined, message: 'Waiting for service "containerd" to be "up"' },
      { id: "udevd", state: "Running", healthy: true, message: "Health check successful" },
    ],
    log: [
      "[minos] 10:29:41 phase boot: task startServices done in 12ms",
      "[minos] 10:29:41 service[containerd]: Running",
      "[minos] 10:29:42 service[udevd]: Health check successful",
      "[minos] 10:29:43 service[kubelet]: Running",
      "[minos] 10:29:44 service[etcd]: Health check successful",
      "[minos] 10:29:45 api: listening on /system/run/machined/machine.sock",
      "[minos] 10:29:45 api: listening on :50000 (mutual TLS)",
      "[minos] 10:29:50 config: applied (no reboot needed)",
    ],
    processes: procs(step),
    net: [
      { name: "eth0", rxBytes: 900e6 + step * 180e3, txBytes: 120e6 + step * 40e3 },
      { name: "lo", rxBytes: 50e6 + step * 6e3, txBytes: 50e6 + step * 6e3 },
    ],
    disks: [
      { name: "sda", readBytes: 2e9 + step * 4096 * 12, writeBytes: 5e9 + step * 4096 * 90 },
      { name: "sda1", readBytes: 1e8, writeBytes: 2e8 + step * 4096 },
    ],
    config: CONFIG,
    events: [
      { ts: T0 - 60_000, text: "sequence boot: start" },
      { ts: T0 - 59_000, text: "phase api: done" },
      { ts: T0 - 55_000, text: "service containerd: Running" },
      { ts: T0 - 40_000, text: "sequence boot: done (20.1s)" },
      { ts: T0 - 10_000, text: "shutdown scheduled: poweroff at 10:35:00" },
    ],
    scheduledShutdown: { action: "poweroff", at: T0 + 5 * 60_000, message: "kernel upgrade" },
    errors: {},
    ...over,
  };
}

/** A connected state after `steps` samples 1.5 s apart (so rates and graphs have history). */
export function liveState(steps = 40, over: Partial<NodeSample> = {}): DashboardState {
  let s = initialState({ endpoint: "unix:/system/run/machined/machine.sock", now: T0 - steps * 1500 });
  for (let i = 0; i < steps; i++) s = applySample(s, sample(i, over), T0 - (steps - 1 - i) * 1500);
  return s;
}
