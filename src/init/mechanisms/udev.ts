// udev coldplug, as `udevadm trigger --type=subsystems --action=add` then
// `udevadm trigger --type=devices --action=add` and `udevadm settle` do it
// (systemd-udev-trigger.service): the kernel created most devices before
// udevd ran, so nobody saw their "add" uevents and no driver module was loaded
// for them. Writing "add" to a device's sysfs `uevent` file makes the kernel
// emit that uevent again; udevd then runs its rules (80-drivers.rules loads
// the module matching MODALIAS). Settled means udevd's queue marker
// /run/udev/queue (systemd-udevd 252 creates it while events are queued and
// removes it when the queue is empty — what `udevadm settle` checks) is gone.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const UDEV_QUEUE = "/run/udev/queue";

/** The `uevent` files udevadm trigger writes, subsystems first, then devices parent-first. */
export function coldplugTargets(sysfs = "/sys"): { subsystems: string[]; devices: string[] } {
  const subsystems: string[] = [];
  // --type=subsystems: modules, buses and bus drivers.
  for (const m of dirs(join(sysfs, "module"))) pushIfUevent(subsystems, join(sysfs, "module", m));
  for (const b of dirs(join(sysfs, "bus"))) {
    pushIfUevent(subsystems, join(sysfs, "bus", b));
    for (const d of dirs(join(sysfs, "bus", b, "drivers"))) pushIfUevent(subsystems, join(sysfs, "bus", b, "drivers", d));
  }
  // --type=devices: every device under /sys/devices (real directories only: the
  // symlinks "subsystem", "driver", "device" would loop), parents before children.
  const devices: string[] = [];
  const walk = (dir: string) => {
    pushIfUevent(devices, dir);
    for (const d of dirs(dir)) walk(join(dir, d));
  };
  walk(join(sysfs, "devices"));
  return { subsystems, devices };
}

/** Sub-directories (not symlinks), sorted; none when `dir` is unreadable. */
function dirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

function pushIfUevent(out: string[], dir: string): void {
  const f = join(dir, "uevent");
  if (existsSync(f)) out.push(f);
}

/** Writes "add" to each uevent file; returns how many the kernel refused (some devices have no uevent to replay). */
export function trigger(files: readonly string[]): { written: number; refused: number } {
  let written = 0;
  let refused = 0;
  for (const f of files) {
    try {
      writeFileSync(f, "add");
      written++;
    } catch {
      refused++;
    }
  }
  return { written, refused };
}

/**
 * Waits until udevd's queue is empty and stays empty for `quietMs` (a module
 * loaded for one event adds devices, hence events, of its own), at most
 * `timeoutMs`. Returns whether it settled.
 */
export async function settle(opts: { timeoutMs: number; quietMs: number; signal: AbortSignal; queue?: string }): Promise<boolean> {
  const queue = opts.queue ?? UDEV_QUEUE;
  const t0 = performance.now();
  let emptySince: number | undefined;
  for (;;) {
    const now = performance.now();
    if (existsSync(queue)) emptySince = undefined;
    else emptySince ??= now;
    if (emptySince !== undefined && now - emptySince >= opts.quietMs) return true;
    if (opts.signal.aborted || now - t0 >= opts.timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Names of the loaded modules (/proc/modules), to log what the coldplug loaded. */
export function loadedModules(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ")[0]!),
  );
}
