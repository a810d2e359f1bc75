// init's side of the machine API contract (contract.ts): the API server
// calls these; they read and drive the node's services, logs, events,
// sequences and config.
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { ServiceInfo } from "../../node/services.ts";
import type { TimeAnswer, TimeSyncInfo } from "../../node/time.ts";
import type { VersionInfo } from "../../node/version.ts";
import { queryServer, systemClock } from "../../time/index.ts";
import type { MachineBackend } from "./contract.ts";
import { FailedPreconditionError, InvalidArgumentError, UnavailableError } from "../../lib/errors.ts";
import { afterMs, type Alarm } from "../../lib/timers.ts";
import { MAX_TRY_MS } from "../../node/config.ts";
import { networkBackend } from "./network.ts";
import { nodeImages } from "./images.ts";
import { nodeContainers } from "./containers.ts";
import type { LogRing, Unsubscribe } from "../../lib/ring.ts";
import { asMachineConfig, checkMachineFiles, type MachineConfig } from "../config/machine.ts";
import { storeValidated, STORED_CONFIG, type LoadedConfig } from "../config/store.ts";
import { applySysctlsPaced } from "../phases/kernel.ts";
import { ValidationAbortedError } from "../../config/offthread.ts";
import { readerText, RedactionError, redactConfigText, type Redaction } from "../../config/redact.ts";
import type { ValidatedConfig } from "../../config/validate.ts";
import { installForApply, listDisks, resetNode } from "./install.ts";
import type { ResetOptions } from "../../node/storage.ts";
import { sethostname, uname } from "../../sys/process.ts";
import type { NodeContext } from "../context.ts";
import { errText } from "../mechanisms/log.ts";
import pkg from "../../../package.json";
import { etcdBackend } from "../etcd/backend.ts";

/** The client of a call went away (cancelled, deadline passed) before it changed anything. */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
}
/** machine.network keys that reach resolv.conf and hosts live (NetworkRuntime.refresh). */
const NETWORK_LIVE_KEYS = ["nameservers", "searchDomains", "disableSearchDomain", "extraHostEntries"] as const;

/** Config keys that take effect without a reboot; everything else waits for the next boot. */
const LIVE = ["machine.network.hostname", "machine.sysctls", "machine.env", ...NETWORK_LIVE_KEYS.map((k) => `machine.network.${k}`)];

export function createBackend(ctx: NodeContext): MachineBackend {
  const registry = () => {
    const reg = ctx.services.peek();
    if (!reg) throw new FailedPreconditionError("services are not started yet");
    return reg;
  };
  /** A try in force: what it reverts to and when. */
  let tryRevert: { to: LoadedConfig; alarm: Alarm } | undefined;
  // Once a sequence that ends the node has started, services only go down:
  // checked in the same tick as start() (which launches synchronously), and
  // again after a restart's stop, since the shutdown may begin while it waits.
  const refuseWhenGoingDown = (what: string) => {
    if (ctx.sequencer.goingDown) throw new FailedPreconditionError(`${what}: the node is going down (sequence ${ctx.sequencer.running})`);
  };

  /** Logged: nobody is left to read the reply, and an operator may wonder why the config did not change. */
  const clientGone = (why: string) => {
    ctx.log.info(why);
    return new ClientGoneError(why);
  };

  /**
   * Validates in the config worker (the loop keeps serving): an invalid config (or invalid UTF-8) is
   * InvalidArgumentError and touches nothing, also sent as a ConfigValidationError event; one that
   * takes over 10 s is stopped (RESOURCE_EXHAUSTED).
   */
  const validated = async (data: string | Uint8Array, signal: AbortSignal | undefined, actorId?: string): Promise<ValidatedConfig> => {
    try {
      const v = await ctx.configValidator.validate(data, signal ? { signal } : {});
      const config = asMachineConfig(v.config, v.documents);
      const fileProblems = checkMachineFiles(config);
      if (fileProblems.length) throw new InvalidArgumentError(`invalid machine config:\n  ${fileProblems.join("\n  ")}`);
      return v;
    } catch (e) {
      if (e instanceof ValidationAbortedError) throw clientGone("config: the client went away during validation; nothing changed");
      if (e instanceof InvalidArgumentError) ctx.events.emit({ kind: "config-validation-error", error: e.message, ...(actorId ? { actorId } : {}) });
      throw e;
    }
  };

  /**
   * Config changes one at a time: applying live yields to the event loop now,
   * and two applies (or an apply and a try's revert) must not interleave
   * between "stored" and "in force".
   */
  let configChanges: Promise<unknown> = Promise.resolve();
  const oneConfigChange = <T>(change: () => Promise<T>): Promise<T> => {
    const run = configChanges.then(change, change);
    configChanges = run.catch(() => {});
    return run;
  };

  /**
   * Applies what can change live and makes `loaded` the config in force; returns
   * the keys that need a reboot. Paced: 10,000 sysctls are 10,000 writes.
   */
  const applyLive = async (loaded: LoadedConfig): Promise<string[]> => {
    const next = loaded.config;
    const prev = ctx.config.peek()?.config;
    const changed = prev ? diffKeys(prev, next) : [];
    // An empty hostname means "from DHCP or the default" (mechanisms/network-runtime.ts decides it).
    if (!prev || prev.machine.network.hostname !== next.machine.network.hostname) {
      if (next.machine.network.hostname) sethostname(next.machine.network.hostname);
    }
    if (changed.includes("machine.sysctls")) await applySysctlsPaced(next.machine.sysctls, ctx.sandbox);
    ctx.config.set(loaded);
    // resolv.conf, hosts and the hostname from the new config: once it is the one in force.
    if (changed.some((k) => k.startsWith("machine.network.") && k !== "machine.network.interfaces")) ctx.network.peek()?.refresh("config");
    return changed.filter((k) => !LIVE.includes(k));
  };

  const restartService = async (id: string): Promise<string> => {
    const s = registry().get(id);
    refuseWhenGoingDown(`restart ${id}`);
    await s.stop();
    refuseWhenGoingDown(`restart ${id}`);
    return s.start().replace("starting", "restarting");
  };

  return {
    network: networkBackend(ctx),
    etcd: etcdBackend(ctx),
    images: nodeImages(ctx),
    containers: nodeContainers(ctx, { restartService }),
    hostname: () => uname().nodename,
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
    startService: async (id) => {
      const s = registry().get(id);
      refuseWhenGoingDown(`start ${id}`);
      return s.start();
    },
    stopService: async (id) => registry().get(id).stop(),
    restartService,
    logs: (id): LogRing | undefined => (id === "machined" ? ctx.log.ring : ctx.services.peek()?.find(id)?.logs),
    eventHistory: (): NodeEvent[] => ctx.events.all(),
    subscribeEvents: (fn): Unsubscribe => ctx.events.subscribe(fn),
    powerAction: (action: PowerAction, actorId?: string) => ctx.power.request(action, "machine API", actorId),
    reset: (opts: ResetOptions) => resetNode(ctx, opts),
    disks: () => listDisks(ctx),
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
    redactedConfigYaml: () => {
      const c = ctx.config.peek();
      if (!c) return "";
      // Made at validation for every config the worker saw; a config loaded inline is redacted here, once.
      c.redaction ??= redactInline(c.text);
      return readerText(c.redaction);
    },
    applyConfiguration: async (
      data: string | Uint8Array,
      mode: ApplyMode,
      tryTimeoutMs = 60_000,
      signal?: AbortSignal,
      dryRun = false,
      actorId?: string,
    ): Promise<ApplyResult> => {
      if (mode === "try" && !(Number.isInteger(tryTimeoutMs) && tryTimeoutMs > 0 && tryTimeoutMs <= MAX_TRY_MS)) {
        throw new InvalidArgumentError(`try_mode_timeout: ${tryTimeoutMs} ms is out of range (1 ms to ${MAX_TRY_MS / 3_600_000} h)`);
      }
      // Validation first, and the only parse, off the event loop.
      const v = await validated(data, signal, actorId);
      const next = asMachineConfig(v.config, v.documents);
      const { warnings, text: yaml, redaction } = v;
      if (dryRun) return dryRunResult(ctx.config.peek(), next, yaml, mode, warnings);
      return oneConfigChange(() => change(next, yaml, redaction, warnings, mode, tryTimeoutMs, signal));
    },
  };

  /** The change an apply makes, once validated: one at a time (oneConfigChange). */
  async function change(
    next: MachineConfig,
    yaml: string,
    redaction: Redaction,
    warnings: string[],
    mode: ApplyMode,
    tryTimeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ApplyResult> {
    // The validation may have outlived the client: let the loop deliver its cancel or deadline, then change nothing for nobody.
    await new Promise((r) => setImmediate(r));
    if (signal?.aborted) throw clientGone("config: the client went away before the config was applied; nothing changed");
    if (warnings.length > 0) {
      ctx.log.warn(`config: ${warnings.length} key(s) accepted, not applied: ${warnings.join("; ")}`);
      ctx.events.emit({ kind: "config", message: `accepted, not applied: ${warnings.join("; ")}` });
    }
    if (mode === "staged") {
      // Stored for the next boot, which loads the stored config; nothing changes now.
      storeValidated(yaml);
      tryRevert?.alarm.cancel();
      tryRevert = undefined;
      ctx.events.emit({ kind: "config", message: "config staged: applied at the next boot" });
      const prev = ctx.config.peek()?.config;
      return { mode, details: `staged in ${STORED_CONFIG}; applied at the next boot`, needsReboot: prev ? diffKeys(prev, next) : [], warnings };
    }
    if (mode === "try") {
      // The revert goes back to what was in force before the first try, never to another try's config.
      const before = tryRevert?.to ?? ctx.config.peek();
      tryRevert?.alarm.cancel();
      tryRevert = undefined;
      const current: LoadedConfig = { config: next, text: yaml, source: "stored", rejected: [], redaction };
      const needsReboot = await applyLive(current);
      const until = Date.now() + tryTimeoutMs;
      if (before) {
        const revert = {
          to: before,
          alarm: afterMs(tryTimeoutMs, () => {
            void oneConfigChange(async () => {
              // An apply queued before this turn may have stored a config meanwhile: then there is nothing to undo.
              if (tryRevert !== revert) return;
              tryRevert = undefined;
              await applyLive(before);
              ctx.log.info("config: try period over, back to the stored config");
              ctx.events.emit({ kind: "config", message: "try period over: back to the stored config" });
            }).catch((e: unknown) => ctx.log.error(`config: reverting the try failed: ${errText(e)}`));
          }),
        };
        tryRevert = revert;
      }
      ctx.events.emit({ kind: "config", message: `config applied for ${tryTimeoutMs} ms (try)` });
      return { mode, details: `applied until ${new Date(until).toISOString()}, not stored`, needsReboot, warnings };
    }
    // machine.install: partition the disk and mount its STATE first, so the config is stored there.
    const installed = await installForApply(ctx, next, mode, false);
    // Throws with the stored file as it was (ResourceExhaustedError when the disk is full): nothing below runs then.
    storeValidated(yaml);
    // Stored: this is now what a revert would go back to, so a pending try has nothing left to undo.
    tryRevert?.alarm.cancel();
    tryRevert = undefined;
    const stored: LoadedConfig = { config: next, text: yaml, source: "stored", rejected: [], redaction };
    let needsReboot: string[] = [];
    if (mode === "reboot") ctx.config.set(stored);
    else needsReboot = await applyLive(stored);
    ctx.events.emit({ kind: "config", message: `config stored (${mode})` });
    if (mode === "reboot" || (mode === "auto" && needsReboot.length > 0)) {
      ctx.power.request("reboot", "config applied");
      return { mode, details: `${installed ? `${installed}; ` : ""}stored in ${STORED_CONFIG}; rebooting`, needsReboot, warnings };
    }
    return {
      mode,
      details: `${installed ? `${installed}; ` : ""}${needsReboot.length ? `stored; applied live except ${needsReboot.join(", ")} (next boot)` : "stored and applied"}${ctx.storage.mode === "ram" ? " (state in RAM: no install disk, lost at reboot)" : ""}`,
      needsReboot,
      warnings,
    };
  }
}

/** A dry run: what would change (keys and the lines of the YAML), what the mode would do; nothing is stored or applied. */
function dryRunResult(current: LoadedConfig | undefined, next: MachineConfig, yaml: string, mode: ApplyMode, warnings: string[]): ApplyResult {
  const changed = current ? diffKeys(current.config, next) : ["(everything: no config in force)"];
  const needsReboot = mode === "staged" || mode === "reboot" ? changed : changed.filter((k) => !LIVE.includes(k));
  const what: Record<ApplyMode, string> = {
    no_reboot: needsReboot.length ? `would be stored and applied live except ${needsReboot.join(", ")} (next boot)` : "would be stored and applied live",
    auto: needsReboot.length ? "would be stored and the node rebooted" : "would be stored and applied live",
    reboot: "would be stored and the node rebooted",
    staged: "would be stored and applied at the next boot",
    try: "would be applied live for the try period, not stored",
  };
  const diff = lineDiff(current?.text ?? "", yaml);
  return {
    mode,
    details: `dry run: ${changed.length ? `changes ${changed.join(", ")}` : "no changes"}; ${what[mode]}; nothing was changed${diff ? `\n${diff}` : ""}`,
    needsReboot,
    warnings,
  };
}

/** The lines removed and added between two texts (- and +), at most 200 of them: enough to read, bounded for a huge config. */
export function lineDiff(a: string, b: string, max = 200): string {
  const before = a.split("\n");
  const after = b.split("\n");
  const inB = new Map<string, number>();
  for (const l of after) inB.set(l, (inB.get(l) ?? 0) + 1);
  const inA = new Map<string, number>();
  for (const l of before) inA.set(l, (inA.get(l) ?? 0) + 1);
  const out: string[] = [];
  const take = (counts: Map<string, number>, l: string) => {
    const n = counts.get(l) ?? 0;
    if (n > 0) counts.set(l, n - 1);
    return n > 0;
  };
  for (const l of before) if (!take(inB, l) && out.length < max) out.push(`- ${l}`);
  for (const l of after) if (!take(inA, l) && out.length < max) out.push(`+ ${l}`);
  return out.join("\n");
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
  for (const k of NETWORK_LIVE_KEYS) if (JSON.stringify(a.machine.network[k]) !== JSON.stringify(b.machine.network[k])) keys.push(`machine.network.${k}`);
  if (JSON.stringify(a.minos) !== JSON.stringify(b.minos)) keys.push("minos.services");
  // Read when the services are declared at boot, as minos.services is: a change waits for the next boot.
  if (JSON.stringify(a.extensionServiceConfigs ?? []) !== JSON.stringify(b.extensionServiceConfigs ?? [])) keys.push("ExtensionServiceConfig");
  return keys;
}

function redactInline(text: string): Redaction {
  try {
    return { text: redactConfigText(text) };
  } catch (e) {
    if (e instanceof RedactionError) return { error: e.message };
    throw e;
  }
}
