// The modaliases of the devices the kernel found: what udevd's coldplug feeds
// to modprobe. init reads them itself at boot, before udevd runs, so the
// drivers of the system disk (virtio_pci, virtio_blk, ahci, nvme…) and of the
// ACPI power button (button, evdev) are there before the state partition is
// looked for and from the first seconds on — the Debian kernel builds all of
// them as modules.
import { type Dirent, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Every distinct `modalias` below `root` (sysfs's device tree), symlinks not followed. */
export function deviceModaliases(root = "/sys/devices"): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string, depth: number) => {
    if (depth > 24) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name), depth + 1);
      else if (e.name === "modalias" && e.isFile()) {
        try {
          const alias = readFileSync(join(dir, e.name), "utf8").trim();
          if (alias) out.add(alias);
        } catch {}
      }
    }
  };
  walk(root, 0);
  return out;
}
