// Boot phase "maintenance" (Talos's maintenance mode): a node with no config —
// none stored, none from minos.config= — or with a STATE it cannot use brings
// its network up from the kernel cmdline's ip=, serves the maintenance API on
// TCP 50000 (self-signed certificate: `minosctl apply-config --insecure`),
// prints where and the certificate's fingerprint, and waits. An applied config
// (with machine.install: after the install, STATE and EPHEMERAL mounted) is
// stored, the maintenance API closes and the boot carries on with it: the
// machine API then serves mutual TLS with the config's machine.ca.
import { API_TCP_PORT } from "../../node/paths.ts";
import { FailedPreconditionError } from "../../lib/errors.ts";
import type { ApplyMode, ApplyResult } from "../../node/config.ts";
import { hostPort, nodeAddresses, startMaintenanceApi } from "../../api/maintenance.ts";
import { createBackend } from "../backend/machine.ts";
import { installForApply } from "../backend/install.ts";
import { parseMachineConfig } from "../config/machine.ts";
import { storeConfig, STORED_CONFIG } from "../config/store.ts";
import type { NodeContext } from "../context.ts";
import { errText } from "../mechanisms/log.ts";
import { networkPlan } from "../mechanisms/network.ts";
import { describeStorage } from "../mechanisms/system-disk.ts";
import { SequenceAborted, skipped, type Task } from "../sequences/sequencer.ts";
import { configureInterface, INTERFACE_WAIT_MS, waitForInterface } from "./network.ts";
import { dhcpFallbackTask } from "./dhcp.ts";

export function maintenanceTasks(ctx: NodeContext): Task[] {
  // The addresses ip= gave: the kernel lists an address only once the link is up, which may come later.
  const configured: string[] = [];
  return [
    {
      name: "network from the kernel cmdline",
      run: async (signal) => {
        if (!ctx.maintenance) return skipped("not in maintenance mode");
        const plan = networkPlan([], ctx.cmdline.params.get("ip"));
        if (plan.interfaces.length === 0) return skipped("no usable ip= on the kernel cmdline (DHCP next)");
        for (const iface of plan.interfaces) {
          if (!iface.interface) continue; // ip= always names its device
          const index = await waitForInterface(iface.interface, INTERFACE_WAIT_MS, signal);
          if (index === undefined) {
            ctx.log.warn(`  ${iface.interface}: no such interface after ${INTERFACE_WAIT_MS / 1000} s`);
            continue;
          }
          ctx.log.info(`  ${configureInterface(iface, index)}`);
          ctx.networkFromCmdline = true;
          configured.push(...iface.addresses.map((a) => a.split("/")[0]!));
        }
      },
    },
    dhcpFallbackTask(ctx, { onlyInMaintenance: true }),
    {
      name: "fetch the config from minos.config=",
      run: async (signal) => {
        if (!ctx.configUrl || !ctx.maintenance) return skipped("no minos.config= URL");
        const text = await fetchConfig(ctx, ctx.configUrl, signal);
        if (text === undefined) {
          ctx.maintenance = `minos.config=${ctx.configUrl} could not be fetched within ${FETCH_BUDGET_MS / 1000} s`;
          return skipped(ctx.maintenance);
        }
        try {
          const r = await acceptConfig(ctx, text, "auto");
          ctx.log.info(`  ${r.details}`);
          ctx.maintenance = undefined;
        } catch (e) {
          // An invalid or uninstallable config: said plainly, and the node waits in maintenance mode.
          ctx.maintenance = `the config at ${ctx.configUrl} was refused: ${errText(e).replace(/\n\s*/g, " ")}`;
          ctx.log.error(`  ${ctx.maintenance}`);
        }
      },
    },
    {
      name: "wait for a config (maintenance API)",
      run: async (signal) => {
        if (!ctx.maintenance) return skipped("the node has a config");
        await serveUntilConfigured(ctx, signal, configured);
      },
    },
  ];
}

/** How long a minos.config= URL is retried before the node waits in maintenance mode instead. */
export const FETCH_BUDGET_MS = 5 * 60_000;
const FETCH_TIMEOUT_MS = 15_000;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** GETs the config, retrying (1 s, 2 s, 4 s … 30 s apart) until it answers 200 or the budget is spent. */
async function fetchConfig(ctx: NodeContext, url: string, signal: AbortSignal): Promise<string | undefined> {
  const until = Date.now() + FETCH_BUDGET_MS;
  let delay = 1000;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new SequenceAborted("fetching the config: the boot was taken over");
    let why: string;
    try {
      const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]), redirect: "follow" });
      if (res.ok) {
        const text = await res.text();
        if (text.length > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
        ctx.log.info(`  fetched ${url} (${text.length} bytes) on attempt ${attempt}`);
        return text;
      }
      why = `HTTP ${res.status}`;
    } catch (e) {
      if (signal.aborted) throw new SequenceAborted("fetching the config: the boot was taken over");
      why = errText(e);
    }
    if (Date.now() + delay > until) {
      ctx.log.warn(`  ${url}: attempt ${attempt}: ${why}; giving up`);
      return undefined;
    }
    ctx.log.warn(`  ${url}: attempt ${attempt}: ${why}; retrying in ${delay / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}

/**
 * A config for a node without one (maintenance apply, or fetched from a URL):
 * validated (InvalidArgumentError: nothing touched), installed when it names
 * an install disk (STATE and EPHEMERAL mounted), stored, and made the node's.
 */
export async function acceptConfig(ctx: NodeContext, yaml: string, mode: ApplyMode): Promise<ApplyResult> {
  const { config: next, warnings } = parseMachineConfig(yaml);
  const installed = await installForApply(ctx, next, mode, true);
  storeConfig(yaml);
  ctx.config.set({ config: next, text: yaml, source: "stored", rejected: [] });
  ctx.log.info(`config accepted${installed ? ` (${installed})` : ""}; ${describeStorage(ctx.storage)}`);
  ctx.events.emit({ kind: "config", message: "config applied in maintenance mode" });
  return {
    mode,
    details: `${installed ? `${installed}; ` : ""}stored in ${STORED_CONFIG}${ctx.storage.mode === "ram" ? " (in RAM: no machine.install.disk, lost at reboot)" : ""}; leaving maintenance mode, the boot continues`,
    needsReboot: [],
    warnings,
  };
}

async function serveUntilConfigured(ctx: NodeContext, signal: AbortSignal, fromCmdline: readonly string[]): Promise<void> {
  let applied!: () => void;
  const configured = new Promise<void>((r) => (applied = r));
  let busy = false;
  const apply = async (yaml: string, mode: ApplyMode): Promise<ApplyResult> => {
    if (busy) throw new FailedPreconditionError("a config is being applied");
    busy = true;
    try {
      const r = await acceptConfig(ctx, yaml, mode);
      applied();
      return r;
    } finally {
      busy = false;
    }
  };
  const backend = { ...createBackend(ctx), applyConfiguration: apply };
  const api = await startMaintenanceApi(backend, { port: API_TCP_PORT });
  const addrs = [...new Set([...fromCmdline, ...nodeAddresses()])];
  ctx.log.warn(`maintenance mode: ${ctx.maintenance}`);
  ctx.log.warn(`  ${describeStorage(ctx.storage)}`);
  ctx.log.warn(`  maintenance API on ${addrs.length ? addrs.map((a) => hostPort(a, api.tcpPort)).join(", ") : `port ${api.tcpPort} (no address yet)`}`);
  ctx.log.warn(`  certificate SHA-256 fingerprint ${api.fingerprint}`);
  ctx.log.warn(`  apply a config: minosctl apply-config --insecure -e ${addrs[0] ?? "<node address>"} -f node.yaml`);
  const onAbort = () => applied();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await configured;
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Let the ApplyConfiguration reply go out before the listener closes.
    await new Promise((r) => setTimeout(r, 200));
    await api.close().catch((e) => ctx.log.warn(`  closing the maintenance API: ${errText(e)}`));
  }
  if (signal.aborted) throw new SequenceAborted("maintenance mode ended: the boot was taken over");
  ctx.maintenance = undefined;
  ctx.log.info("  maintenance mode over");
}
