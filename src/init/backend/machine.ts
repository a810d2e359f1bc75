// init's side of the machine API contract (src/api/backend.ts): the API server
// calls these; they read and drive the node's services, logs, events,
// sequences and config.
import { hostname } from "node:os";
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { ServiceInfo } from "../../node/services.ts";
import type { VersionInfo } from "../../node/version.ts";
import type { MachineBackend } from "./contract.ts";
import { FailedPreconditionError } from "../../lib/errors.ts";
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";
import { parseConfig, type MachineConfig } from "../config/machine.ts";
import { loadConfig, storeConfig, STORED_CONFIG } from "../config/store.ts";
import { applySysctls } from "../phases/kernel.ts";
import { installForApply, listDisks, resetNode } from "./install.ts";
import type { ResetOptions } from "../../node/storage.ts";
import { sethostname } from "../../sys/process.ts";
import type { NodeContext } from "../context.ts";
import pkg from "../../../package.json";

/** Config keys that take effect without a reboot; everything else waits for the next boot. */
const LIVE = ["machine.network.hostname", "machine.sysctls", "machine.env"];

export function createBackend(ctx: NodeContext): MachineBackend {
  const registry = () => {
    const reg = ctx.services.peek();
    if (!reg) throw new FailedPreconditionError("services are not started yet");
    return reg;
  };
  let tryTimer: ReturnType<typeof setTimeout> | undefined;

  /** Applies what can change live; returns the keys that need a reboot. */
  const applyLive = (next: MachineConfig): string[] => {
    const prev = ctx.config.peek()?.config;
    const changed = prev ? diffKeys(prev, next) : [];
    if (!prev || prev.machine.network.hostname !== next.machine.network.hostname) sethostname(next.machine.network.hostname);
    if (changed.includes("machine.sysctls")) applySysctls(next.machine.sysctls, ctx.sandbox);
    return changed.filter((k) => !LIVE.includes(k));
  };

  return {
    hostname: () => hostname(),
    version: (): VersionInfo => ({
      tag: `v${pkg.version}`,
      // Both are replaced at build time (build/compile.ts); "unknown"/"" when run from source.
      sha: process.env.MINOS_GIT_SHA ?? "unknown",
      built: process.env.MINOS_BUILT ?? "",
      goVersion: `bun ${Bun.version}`,
      os: "linux",
      arch: process.arch === "x64" ? "amd64" : process.arch,
    }),
    listServices: (): ServiceInfo[] =>
      ctx.services
        .peek()
        ?.all()
        .map((s) => s.info()) ?? [],
    startService: async (id) => registry().get(id).start(),
    stopService: async (id) => registry().get(id).stop(),
    restartService: async (id) => {
      const s = registry().get(id);
      await s.stop();
      return s.start().replace("starting", "restarting");
    },
    logs: (id): LogRing | undefined => (id === "machined" ? ctx.log.ring : ctx.services.peek()?.find(id)?.logs),
    eventHistory: (): NodeEvent[] => ctx.events.all(),
    subscribeEvents: (fn): Unsubscribe => ctx.events.subscribe(fn),
    powerAction: (action: PowerAction) => ctx.power.request(action, "machine API"),
    reset: (opts: ResetOptions) => resetNode(ctx, opts),
    disks: () => listDisks(ctx),
    scheduleShutdown: (s: ScheduledShutdown) => ctx.power.schedule(s),
    cancelScheduledShutdown: () => ctx.power.cancel(),
    scheduledShutdown: () => ctx.power.current(),
    configYaml: () => ctx.config.peek()?.text ?? "",
    applyConfiguration: async (yaml: string, mode: ApplyMode, tryTimeoutMs = 60_000): Promise<ApplyResult> => {
      // Validation first: an invalid config throws InvalidArgumentError here and touches nothing.
      const next = parseConfig(yaml);
      if (tryTimer) clearTimeout(tryTimer);
      if (mode === "try") {
        const needsReboot = applyLive(next);
        ctx.config.set({ config: next, text: yaml, source: "stored", rejected: [] });
        tryTimer = setTimeout(() => {
          const stored = loadConfig(undefined);
          applyLive(stored.config);
          ctx.config.set(stored);
          ctx.log.info("config: try period over, back to the stored config");
        }, tryTimeoutMs);
        ctx.events.emit({ kind: "config", message: `config applied for ${tryTimeoutMs} ms (try)` });
        return { mode, details: `applied until ${new Date(Date.now() + tryTimeoutMs).toISOString()}, not stored`, needsReboot };
      }
      // machine.install: partition the disk and mount its STATE first, so the config is stored there.
      const installed = await installForApply(ctx, next, mode, false);
      storeConfig(yaml);
      const needsReboot = mode === "reboot" ? [] : applyLive(next);
      ctx.config.set({ config: next, text: yaml, source: "stored", rejected: [] });
      ctx.events.emit({ kind: "config", message: `config stored (${mode})` });
      if (mode === "reboot" || (mode === "auto" && needsReboot.length > 0)) {
        ctx.power.request("reboot", "config applied");
        return { mode, details: `${installed ? `${installed}; ` : ""}stored in ${STORED_CONFIG}; rebooting`, needsReboot };
      }
      return {
        mode,
        details: `${installed ? `${installed}; ` : ""}${needsReboot.length ? `stored; applied live except ${needsReboot.join(", ")} (next boot)` : "stored and applied"}${ctx.storage.mode === "ram" ? " (state in RAM: no install disk, lost at reboot)" : ""}`,
        needsReboot,
      };
    },
  };
}

/** Which top-level sections changed ("machine.sysctls", "minos.services", ...). */
export function diffKeys(a: MachineConfig, b: MachineConfig): string[] {
  const keys: string[] = [];
  const sections = { ...a.machine, ...b.machine } as Record<string, unknown>;
  for (const k of Object.keys(sections)) {
    if (k === "network") continue; // by key below: the hostname is live, the interfaces are not
    if (JSON.stringify((a.machine as Record<string, unknown>)[k]) !== JSON.stringify((b.machine as Record<string, unknown>)[k])) keys.push(`machine.${k}`);
  }
  if (a.machine.network.hostname !== b.machine.network.hostname) keys.push("machine.network.hostname");
  if (JSON.stringify(a.machine.network.interfaces) !== JSON.stringify(b.machine.network.interfaces)) keys.push("machine.network.interfaces");
  if (JSON.stringify(a.minos) !== JSON.stringify(b.minos)) keys.push("minos.services");
  return keys;
}
