// Boot phase "services": declare the built-in and configured services and
// start them in dependency order, through wrapperd where it exists.
import { capBit, capget, capNames, capNumber } from "../../sys/caps.ts";
import type { NodeContext } from "../context.ts";
import type { Task } from "../sequences/sequencer.ts";
import { builtinServices, CONTAINERD_ROOT, CONTAINERD_SOCKET, extraServices } from "../supervisor/builtin.ts";
import { watchAllHealthy } from "../supervisor/healthy.ts";
import { ServiceRegistry } from "../supervisor/registry.ts";
import { viaWrapperd } from "../supervisor/wrapperd.ts";
import { syncfsOffThread } from "../../sys/syncfs.ts";
import { ContainerRunner, rootIsInitramfs } from "../supervisor/container-runner.ts";
import { controllersAt, criNodeFacts, criRegistrySettings, writeCriConfig } from "../supervisor/cri.ts";
import { CRI_CONFIG_DROPIN, CRI_REGISTRY_HOSTS_DIR } from "../../containerd/cri-config.ts";
import { mkdirSync } from "node:fs";

/** Pod logs (the CRI writes /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log), the kubelet's symlinks and state. */
export const KUBELET_VAR_DIRS = ["/var/log/pods", "/var/log/containers", "/var/lib/kubelet"];
import { oomScoreFor } from "../supervisor/launch.ts";
import { registriesConfig } from "../config/machine.ts";
import { ContainerdClient } from "../../containerd/index.ts";
import { RegistryClient } from "../../registry/client.ts";

function hasCapability(name: string): boolean {
  return (capget().effective & capBit(capNumber(name)!)) !== 0n;
}

export function serviceTasks(ctx: NodeContext): Task[] {
  return [
    {
      // Before containerd starts: the CRI plugin reads it once, at its start.
      name: "containerd CRI config, kubelet directories",
      // Without the drop-in containerd still starts, with the rootfs's CRI defaults: logged, not a failed boot.
      nonFatal: true,
      run: () => {
        const facts = criNodeFacts({
          rootIsInitramfs: rootIsInitramfs(),
          controllers: controllersAt(`${ctx.cgroups.get().dir("")}/cgroup.controllers`),
          canLowerOomScore: hasCapability("CAP_SYS_RESOURCE"),
        });
        // The kubelet's and the CRI's directories on /var (a tmpfs or EPHEMERAL, so made at every boot), as Talos makes them.
        for (const d of KUBELET_VAR_DIRS) mkdirSync(d, { recursive: true });
        // The pods' pulls go through the same mirrors, TLS and auth as minos's own (machine.registries).
        const registries = criRegistrySettings(registriesConfig(ctx.config.get().config.machine.registries));
        const adjusted = writeCriConfig(facts, registries);
        ctx.log.info(`  ${CRI_CONFIG_DROPIN}: ${adjusted.length ? adjusted.join("; ") : "the rootfs's defaults (nothing to adjust on this node)"}`);
        const hosts = Object.keys(registries.files).filter((f) => f.endsWith("/hosts.toml"));
        if (hosts.length) ctx.log.info(`  ${CRI_REGISTRY_HOSTS_DIR}: ${hosts.map((f) => f.slice(0, -"/hosts.toml".length)).join(", ")}`);
      },
    },
    {
      name: "start services",
      run: () => {
        const cfg = ctx.config.get().config;
        const wrapped = viaWrapperd();
        const canLowerOomScore = hasCapability("CAP_SYS_RESOURCE");
        if (!canLowerOomScore) ctx.log.info("  negative oom scores left out: lowering one needs CAP_SYS_RESOURCE, which init lacks");
        // One containerd client for every container service (it redials after containerd restarts);
        // the registry settings are read at each start, so an applied config takes effect at the next pull.
        let containerd: ContainerdClient | undefined;
        const containers = new ContainerRunner({
          containerd: () => (containerd ??= ContainerdClient.connect(CONTAINERD_SOCKET, { timeoutMs: 60_000 })),
          registry: () => new RegistryClient(registriesConfig(ctx.config.get().config.machine.registries)),
          cgroups: ctx.cgroups.get(),
          oomScore: (spec) => oomScoreFor(spec, { canLowerOomScore }),
          // containerd's bounding set: init's, less what wrapperd drops for containerd.
          grantableCaps: () => {
            const dropped = builtinServices(cfg, ctx.sandbox).find((s) => s.id === "containerd")?.droppedCaps ?? [];
            return capNames(capget().permitted).filter((c) => !dropped.includes(c));
          },
          log: (m) => ctx.log.info(m),
          progress: (p) => ctx.events.emit({ kind: "image-pull", ...p }),
          persist: () => syncfsOffThread(CONTAINERD_ROOT),
        });
        const registry = new ServiceRegistry({
          launchContext: { reaper: ctx.reaper, cgroups: ctx.cgroups.get(), viaWrapperd: wrapped.use, canLowerOomScore, containers },
          nodeEnv: () => ctx.nodeEnv(),
          events: ctx.events,
          log: (m) => ctx.log.info(m),
          output: (svc, line) => {
            if (svc.spec.console) ctx.log.info(`[${svc.id}] ${line}`);
            // Deferred, so an injected fault is a truly uncaught exception.
            queueMicrotask(() => ctx.faults.onServiceLine(svc.id, line));
          },
        });
        for (const spec of [...builtinServices(cfg, ctx.sandbox), ...extraServices(cfg)]) registry.declare(spec);
        ctx.services.set(registry);
        ctx.log.info(
          `  ${wrapped.use ? "through /sbin/wrapperd" : `directly (${wrapped.why})`}: ${registry
            .all()
            .map((s) => s.id)
            .join(", ")}`,
        );
        watchAllHealthy(ctx);
        registry.startAll();
      },
    },
  ];
}
