// Boot phases "kmsg", "logging", "cgroups", "api" and "services": the pieces that
// turn a mounted system into a managed node.
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { startMachineApi } from "../../api/server.ts";
import { caPem } from "../config/machine.ts";
import { CgroupTree, ownCgroup } from "../mechanisms/cgroups.ts";
import { createBackend } from "../backend/machine.ts";
import { API_SOCKET, API_TCP_PORT, type Node } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";
import { builtinServices, extraServices } from "../supervisor/builtin.ts";
import { ServiceRegistry } from "../supervisor/registry.ts";
import { viaWrapperd } from "../supervisor/wrapperd.ts";
import { watchAllHealthy } from "../supervisor/healthy.ts";
import { errText, stdoutIsKernelConsole } from "../mechanisms/log.ts";
import { capBit, capget, capNumber } from "../../sys/caps.ts";
import { startLogShipping } from "../mechanisms/logship.ts";

function hasCapability(name: string): boolean {
  return (capget().effective & capBit(capNumber(name)!)) !== 0n;
}

/**
 * Phase "kmsg", right after /dev: from here init's lines are kernel log
 * records (Dmesg), and the lines held since exec are replayed into it.
 */
export function kmsgTasks(node: Node): Task[] {
  return [
    {
      name: "unlimited /dev/kmsg",
      run: () => {
        if (node.sandbox) return skipped("sandbox: printk settings are the host's");
        // With the default "ratelimit" the kernel silently drops a burst of
        // writes (the boot writes hundreds). printk.devkmsg= on the cmdline
        // locks the setting: the write then fails and the cmdline's value stands.
        const r = setPrintkDevkmsg("on");
        if (r !== "on") return skipped(r);
      },
    },
    {
      name: "attach /dev/kmsg",
      run: () => {
        if (node.sandbox) return skipped("sandbox: /dev/kmsg is the host's kernel log");
        const why = node.log.attachKmsg("/dev/kmsg", stdoutIsKernelConsole());
        if (why) return skipped(`/dev/kmsg not writable: ${why}`);
        if (node.log.consoleViaKmsg) node.log.info("  init's lines reach the console through the kernel log from here");
      },
    },
  ];
}

/** kernel.printk_devkmsg: "on" when set, else why not (and the value that stands). */
function setPrintkDevkmsg(value: string): string {
  const path = "/proc/sys/kernel/printk_devkmsg";
  try {
    writeFileSync(path, value);
    return value;
  } catch (e) {
    const now = existsSync(path) ? readFileSync(path, "utf8").trim() : "absent";
    return now === value ? value : `cannot set ${path} (${(e as NodeJS.ErrnoException).code ?? errText(e)}): it stays "${now}"`;
  }
}

export function loggingTasks(node: Node): Task[] {
  return [
    {
      name: "log destinations",
      run: () => {
        const dests = node.config!.config.machine.logging.destinations;
        if (dests.length === 0) return skipped("machine.logging.destinations is empty");
        startLogShipping(node, dests);
        node.log.info(`  shipping json_lines to ${dests.map((d) => d.endpoint).join(", ")}`);
      },
    },
  ];
}

export function cgroupTasks(node: Node): Task[] {
  return [
    {
      name: "cgroup tree",
      run: () => {
        const tree = new CgroupTree(ownCgroup());
        const { enabled, problems } = tree.build();
        node.cgroups = tree;
        node.log.info(`  root ${tree.path("")}: init in ${tree.path("init")}, controllers ${enabled.join(" ") || "none"}`);
        for (const p of problems) node.log.info(`  not enabled: ${p}`);
      },
    },
  ];
}

export function apiTasks(node: Node): Task[] {
  return [
    {
      name: "machine API",
      run: async () => {
        mkdirSync(dirname(API_SOCKET), { recursive: true, mode: 0o700 });
        if (existsSync(API_SOCKET)) unlinkSync(API_SOCKET); // a previous boot's socket
        const ca = caPem(node.config!.config);
        node.api = await startMachineApi(createBackend(node), { socketPath: API_SOCKET, ...(ca ? { ca, tcpPort: API_TCP_PORT } : {}) });
        node.log.info(`  listening on ${API_SOCKET}${ca ? ` and TCP ${API_TCP_PORT} (mutual TLS)` : " (no machine.ca: no TCP listener)"}`);
      },
    },
  ];
}

export function serviceTasks(node: Node): Task[] {
  return [
    {
      name: "start services",
      run: () => {
        const cfg = node.config!.config;
        const wrapped = viaWrapperd();
        const canLowerOomScore = hasCapability("CAP_SYS_RESOURCE");
        if (!canLowerOomScore) node.log.info("  negative oom scores left out: lowering one needs CAP_SYS_RESOURCE, which init lacks");
        const registry = new ServiceRegistry({
          launchContext: { reaper: node.reaper, cgroups: node.cgroups!, viaWrapperd: wrapped.use, canLowerOomScore },
          nodeEnv: () => node.nodeEnv(),
          onChange: (svc, ev) => {
            node.log.info(`service ${svc.id}: ${ev.state}: ${ev.msg}`);
            node.events.emit({ kind: "service", service: svc.id, state: ev.state, message: ev.msg, health: { ...svc.health } });
          },
          log: (m) => node.log.info(m),
          output: (svc, line) => {
            if (svc.spec.console) node.log.info(`[${svc.id}] ${line}`);
            // Deferred, so an injected fault is a truly uncaught exception.
            queueMicrotask(() => node.faults.onServiceLine(svc.id, line));
          },
        });
        for (const spec of [...builtinServices(cfg, node.sandbox), ...extraServices(cfg)]) registry.declare(spec);
        node.services = registry;
        node.log.info(`  ${wrapped.use ? "through /sbin/wrapperd" : `directly (${wrapped.why})`}: ${registry.all().map((s) => s.id).join(", ")}`);
        watchAllHealthy(node);
        registry.startAll();
      },
    },
  ];
}
