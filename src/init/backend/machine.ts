// init's side of the machine API contract (contract.ts): the API server
// calls these; they read and drive the node's services, logs, events,
// sequences and config.
import { hostname } from "node:os";
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { ServiceInfo } from "../../node/services.ts";
import type { TimeAnswer, TimeSyncInfo } from "../../node/time.ts";
import type { VersionInfo } from "../../node/version.ts";
import { queryServer, systemClock } from "../../time/index.ts";
import type { MachineBackend } from "./contract.ts";
import { nodeImages } from "./images.ts";
import { FailedPreconditionError, UnavailableError } from "../../lib/errors.ts";
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";
import { decodeConfigText } from "../../config/yaml.ts";
import { parseMachineConfig, type MachineConfig } from "../config/machine.ts";
import { loadConfig, storeConfig, STORED_CONFIG } from "../config/store.ts";
import { applySysctls } from "../phases/kernel.ts";
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
    images: nodeImages(ctx),
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
    scheduleShutdown: (s: ScheduledShutdown) => ctx.power.schedule(s),
    cancelScheduledShutdown: () => ctx.power.cancel(),
    scheduledShutdown: () => ctx.power.current(),
    timeSync: (): TimeSyncInfo | undefined => {
      const t = ctx.time.peek();
      if (!t) return undefined;
      const s = t.sync.status();
      return {
        enabled: s.enabled,
        synced: s.synced,
        servers: t.servers,
        adjuster: s.adjuster,
        ...(s.server !== undefined ? { server: s.server } : {}),
        ...(s.offsetMs !== undefined ? { offsetMs: s.offsetMs } : {}),
        ...(s.lastError ? { lastError: `${s.lastError.reason}: ${s.lastError.detail}` } : {}),
      };
    },
    queryTime: async (server?: string): Promise<TimeAnswer> => {
      const t = ctx.time.peek();
      const target = server || t?.sync.status().server || t?.servers[0];
      if (!target) throw new FailedPreconditionError("no time server: time sync is not running (machine.time.disabled, or the boot has not reached it)");
      const r = await queryServer(target, { clock: t?.clock ?? systemClock }, { timeoutMs: 5000 });
      if (!r.ok) throw new UnavailableError(`time server ${target}: ${r.reason}: ${r.detail}`);
      return { server: target, localNs: r.localNs, remoteNs: r.remoteNs };
    },
    configYaml: () => ctx.config.peek()?.text ?? "",
    applyConfiguration: async (data: string | Uint8Array, mode: ApplyMode, tryTimeoutMs = 60_000): Promise<ApplyResult> => {
      // Validation first: an invalid config (or invalid UTF-8) throws InvalidArgumentError here and touches nothing.
      const yaml = decodeConfigText(data);
      const { config: next, warnings } = parseMachineConfig(yaml);
      if (warnings.length > 0) {
        ctx.log.warn(`config: ${warnings.length} key(s) accepted, not applied: ${warnings.join("; ")}`);
        ctx.events.emit({ kind: "config", message: `accepted, not applied: ${warnings.join("; ")}` });
      }
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
        return { mode, details: `applied until ${new Date(Date.now() + tryTimeoutMs).toISOString()}, not stored`, needsReboot, warnings };
      }
      storeConfig(yaml);
      const needsReboot = mode === "reboot" ? [] : applyLive(next);
      ctx.config.set({ config: next, text: yaml, source: "stored", rejected: [] });
      ctx.events.emit({ kind: "config", message: `config stored (${mode})` });
      if (mode === "reboot" || (mode === "auto" && needsReboot.length > 0)) {
        ctx.power.request("reboot", "config applied");
        return { mode, details: `stored in ${STORED_CONFIG}; rebooting`, needsReboot, warnings };
      }
      return {
        mode,
        details: needsReboot.length ? `stored; applied live except ${needsReboot.join(", ")} (next boot)` : "stored and applied",
        needsReboot,
        warnings,
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
