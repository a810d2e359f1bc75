// Boot phase "kernel": Ctrl-Alt-Del as a signal, sysctls, kernel modules. In
// the sandbox everything that would reach the host's kernel is skipped with its
// reason; the per-namespace sysctls (net.*, in the node's own network
// namespace) are still applied.
import { existsSync, writeFileSync } from "node:fs";
import { kill, SIG } from "../../sys/process.ts";
import { ctrlAltDelSendsSigint } from "../../sys/reboot.ts";
import { waitOrCut } from "../../lib/timers.ts";
import { describeExit } from "../supervisor/reaper.ts";
import type { NodeContext } from "../context.ts";
import { SequenceAborted, skipped, type Task } from "../sequences/sequencer.ts";

/** A modprobe that takes longer is hung (a module init stuck in the kernel, an install script waiting on something). */
export const MODPROBE_TIMEOUT_MS = 30_000;

/** What a Kubernetes node needs (Talos's defaults). */
export const KUBERNETES_SYSCTLS: Record<string, string> = {
  "net.ipv4.ip_forward": "1",
  "net.ipv6.conf.all.forwarding": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
  "vm.overcommit_memory": "1",
  "kernel.panic": "10",
  "kernel.panic_on_oops": "1",
};

/** Kernel hardening (KSPP recommendations Talos applies), where the kernel has them. */
export const HARDENING_SYSCTLS: Record<string, string> = {
  "kernel.kptr_restrict": "1",
  "kernel.dmesg_restrict": "1",
  "kernel.yama.ptrace_scope": "1",
  "kernel.perf_event_paranoid": "3",
  "kernel.unprivileged_bpf_disabled": "1",
  "net.core.bpf_jit_harden": "2",
  "fs.protected_symlinks": "1",
  "fs.protected_hardlinks": "1",
};

/** Sysctls a sandbox may write: they live in the node's own network or UTS namespace. */
export function namespaced(key: string): boolean {
  return key.startsWith("net.") || key === "kernel.hostname" || key === "kernel.domainname";
}

export function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, "/")}`;
}

export interface SysctlReport {
  applied: string[];
  absent: string[];
  skipped: string[];
  failed: string[];
}

/** Defaults first, machine.sysctls last (the config wins). */
export function applySysctls(wanted: Record<string, string>, sandbox: boolean): SysctlReport {
  const r: SysctlReport = { applied: [], absent: [], skipped: [], failed: [] };
  for (const [key, value] of Object.entries(wanted)) applySysctl(key, value, sandbox, r);
  return r;
}

/** How long applySysctlsPaced works before it lets the event loop run (a stat and a write per key: 10,000 keys took ~100 ms). */
export const SYSCTL_SLICE_MS = 10;

/**
 * applySysctls in slices of SYSCTL_SLICE_MS with a turn of the event loop
 * between them: a config may carry 10,000 sysctls, and PID 1 must keep
 * answering (and reaping) while they are written.
 */
export async function applySysctlsPaced(wanted: Record<string, string>, sandbox: boolean): Promise<SysctlReport> {
  const r: SysctlReport = { applied: [], absent: [], skipped: [], failed: [] };
  let sliceStart = performance.now();
  for (const [key, value] of Object.entries(wanted)) {
    applySysctl(key, value, sandbox, r);
    if (performance.now() - sliceStart > SYSCTL_SLICE_MS) {
      await new Promise((res) => setImmediate(res));
      sliceStart = performance.now();
    }
  }
  return r;
}

function applySysctl(key: string, value: string, sandbox: boolean, r: SysctlReport): void {
  if (sandbox && !namespaced(key)) {
    r.skipped.push(key);
    return;
  }
  const path = sysctlPath(key);
  if (!existsSync(path)) {
    r.absent.push(key);
    return;
  }
  try {
    writeFileSync(path, value);
    r.applied.push(`${key}=${value}`);
  } catch (e) {
    r.failed.push(`${key}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export function kernelTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "ctrl-alt-del as SIGINT",
      run: () => {
        // In a PID namespace reboot(CAD_OFF) is EINVAL; on the host it would change the host.
        if (ctx.sandbox) return skipped("sandbox: Ctrl-Alt-Del belongs to the host");
        ctrlAltDelSendsSigint();
      },
    },
    {
      name: "sysctls",
      run: async () => {
        const cfg = ctx.config.get().config;
        const r = await applySysctlsPaced({ ...KUBERNETES_SYSCTLS, ...HARDENING_SYSCTLS, ...cfg.machine.sysctls }, ctx.sandbox);
        ctx.log.info(`  applied ${r.applied.length}: ${r.applied.join(" ") || "-"}`);
        if (r.absent.length) ctx.log.info(`  not in this kernel: ${r.absent.join(" ")}`);
        if (r.skipped.length) ctx.log.info(`  skipped (sandbox: global, would change the host): ${r.skipped.join(" ")}`);
        if (r.failed.length) ctx.log.warn(`  failed: ${r.failed.join("; ")}`);
      },
    },
    {
      name: "kernel modules",
      run: async (signal) => {
        const mods = ctx.config.get().config.machine.kernel.modules;
        if (mods.length === 0) return skipped("machine.kernel.modules is empty");
        if (ctx.sandbox) return skipped(`sandbox: modules are the host kernel's (${mods.map((m) => m.name).join(", ")})`);
        if (!existsSync("/sbin/modprobe")) return skipped("/sbin/modprobe is not in the rootfs");
        for (const m of mods) {
          const argv = ["/sbin/modprobe", m.name, ...m.parameters];
          const { pid, exited } = ctx.reaper.spawn({ path: argv[0]!, argv, env: ["PATH=/sbin:/bin"], stdin: "null", setsid: true });
          const st = await waitOrCut(exited, MODPROBE_TIMEOUT_MS, signal);
          if (st === "timeout" || st === "aborted") {
            // A session leader (setsid): -pid also reaches the install commands it started. Not yet
            // reaped, so the pid cannot have been reused; the reaper collects the exit as usual.
            try {
              kill(-pid, SIG.SIGKILL);
            } catch {}
            if (st === "aborted") throw new SequenceAborted(`modprobe ${m.name} killed: the boot was taken over`);
            // Like a modprobe that exits non-zero: a warning, not a failed boot (the emergency
            // path would reboot the node over one missing driver).
            ctx.log.warn(`  modprobe ${m.name}: no exit after ${MODPROBE_TIMEOUT_MS} ms, killed`);
            continue;
          }
          if (st.code === 0) ctx.log.info(`  loaded ${m.name}`);
          else ctx.log.warn(`  modprobe ${m.name}: ${describeExit(st)}`);
        }
      },
    },
  ];
}
