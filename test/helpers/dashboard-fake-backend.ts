// A MachineBackend with fixed content, for running the real machine API server
// in dashboard tests without booting a node.
import type { MachineBackend } from "../../src/init/backend/contract.ts";
import type { NodeEvent } from "../../src/node/events.ts";
import type { ServiceInfo, ServiceState } from "../../src/node/services.ts";
import { LogRing } from "../../src/lib/ring.ts";

export function fakeBackend(hostname = "dash-node"): MachineBackend {
  const t = new Date();
  const svc = (id: string, state: ServiceState, healthy: boolean): ServiceInfo => ({
    id,
    state,
    events: [{ msg: `service ${state}`, state, ts: t }],
    health: { unknown: false, healthy, lastMessage: healthy ? "Health check successful" : "probe failed", lastChange: t },
  });
  const log = new LogRing(100);
  for (let i = 1; i <= 30; i++) log.push(`[minos] boot step ${i} done`);
  const events: NodeEvent[] = [
    { kind: "sequence", id: "1", ts: t, sequence: "boot", action: "start" },
    { kind: "sequence", id: "2", ts: t, sequence: "boot", action: "stop" },
    { kind: "shutdown-scheduled", id: "3", ts: t, action: "poweroff", at: new Date(t.getTime() + 600_000), message: "maintenance" },
  ];
  return {
    hostname: () => hostname,
    version: () => ({ tag: "v0.1.0", sha: "0123456789abcdef", built: "", goVersion: "bun", os: "linux", arch: "amd64" }),
    listServices: () => [svc("containerd", "Running", true), svc("udevd", "Running", true), svc("kubelet", "Waiting", false)],
    startService: async () => "ok",
    stopService: async () => "ok",
    restartService: async () => "ok",
    logs: (id) => (id === "machined" ? log : undefined),
    eventHistory: () => events,
    subscribeEvents: () => () => {},
    powerAction: () => {},
    scheduleShutdown: () => {},
    cancelScheduledShutdown: () => false,
    scheduledShutdown: () => ({ action: "poweroff", at: new Date(t.getTime() + 600_000), message: "maintenance" }),
    configYaml: () => `version: v1alpha1\nmachine:\n  network:\n    hostname: ${hostname}\n`,
    applyConfiguration: async () => ({ mode: "no_reboot", details: "", needsReboot: [] }),
  };
}
