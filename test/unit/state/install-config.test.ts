// machine.install (Talos's names, defaults and types), the early driver
// load's modalias walk, and the power-button watch's rescans, over fake trees.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";
import { wantsInstall } from "../../../src/init/config/install.ts";
import { parseConfig } from "../../../src/init/config/machine.ts";
import { deviceModaliases } from "../../../src/init/mechanisms/modalias.ts";
import { PowerButtonWatch } from "../../../src/init/mechanisms/power-watch.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "minos-state-unit-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const errorOf = (text: string): string => {
  try {
    parseConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error("accepted");
};

describe("machine.install", () => {
  test("absent: no install, and the config is as before", () => {
    const c = parseConfig("version: v1alpha1\n");
    expect(c.machine.install).toBeUndefined();
    expect(wantsInstall(c.machine.install)).toBe(false);
  });

  test("Talos's keys and defaults", () => {
    const c = parseConfig("version: v1alpha1\nmachine:\n  install:\n    disk: /dev/vda\n    image: ghcr.io/siderolabs/installer:v1.7.0\n");
    // The schema (src/config) fills only what minos applies: wipe; the bootloader keys are stored as given.
    expect(c.machine.install).toEqual({
      disk: "/dev/vda",
      image: "ghcr.io/siderolabs/installer:v1.7.0",
      wipe: false,
    });
    expect(wantsInstall(c.machine.install)).toBe(true);
  });

  test("diskSelector alone selects", () => {
    const c = parseConfig(
      'version: v1alpha1\nmachine:\n  install:\n    diskSelector: { size: ">= 4GB", type: ssd, busPath: "/pci0000:00/*" }\n    wipe: true\n',
    );
    expect(c.machine.install?.diskSelector).toEqual({ size: ">= 4GB", type: "ssd", busPath: "/pci0000:00/*" });
    expect(c.machine.install?.wipe).toBe(true);
    expect(wantsInstall(c.machine.install)).toBe(true);
  });

  test("bad values are refused with their path", () => {
    expect(errorOf("version: v1alpha1\nmachine:\n  install:\n    disk: vda\n")).toContain("machine.install.disk");
    expect(errorOf("version: v1alpha1\nmachine:\n  install:\n    disk: /dev/../etc/passwd\n")).toContain("machine.install.disk");
    expect(errorOf("version: v1alpha1\nmachine:\n  install:\n    wipe: yes-please\n")).toContain("machine.install.wipe");
    expect(errorOf("version: v1alpha1\nmachine:\n  install:\n    diskSelector: { type: floppy }\n")).toContain("machine.install.diskSelector.type");
    expect(errorOf('version: v1alpha1\nmachine:\n  install:\n    diskSelector: { size: "lots" }\n')).toContain("machine.install.diskSelector.size");
    expect(errorOf("version: v1alpha1\nmachine:\n  install:\n    dsik: /dev/vda\n")).toContain("dsik");
  });
});

describe("early driver load", () => {
  test("every distinct modalias below the device tree, links not followed", () => {
    const root = tmp();
    const put = (rel: string, alias: string) => {
      mkdirSync(join(root, rel), { recursive: true });
      writeFileSync(join(root, rel, "modalias"), `${alias}\n`);
    };
    put("pci0000:00/0000:00:04.0", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00");
    put("pci0000:00/0000:00:04.0/virtio2", "virtio:d00000002v00001AF4");
    put("LNXSYSTM:00/LNXPWRBN:00", "acpi:LNXPWRBN:");
    put("platform/serial8250", "platform:serial8250");
    put("platform/other", "platform:serial8250"); // a duplicate counts once
    mkdirSync(join(root, "empty"));
    writeFileSync(join(root, "empty", "modalias"), "\n"); // nothing to load
    symlinkSync(join(root, "pci0000:00"), join(root, "platform", "loop")); // a cycle through a link would never end
    expect([...deviceModaliases(root)].sort()).toEqual(
      ["acpi:LNXPWRBN:", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", "platform:serial8250", "virtio:d00000002v00001AF4"].sort(),
    );
  });

  test("the power button watch picks up devices as they appear, once each", () => {
    const sys = tmp();
    const add = (n: number, bitmap: string) => {
      mkdirSync(join(sys, `event${n}`, "device", "capabilities"), { recursive: true });
      writeFileSync(join(sys, `event${n}`, "device", "capabilities", "key"), `${bitmap}\n`);
    };
    const watch = new PowerButtonWatch(() => {}, sys);
    expect(watch.scan()).toEqual([]);
    add(0, "10000000000000 0"); // KEY_POWER (116) is bit 52 of the second word
    add(1, "0"); // a keyboard without it
    expect(watch.scan()).toEqual(["/dev/input/event0"]);
    expect(watch.scan()).toEqual([]); // watched once
    add(2, "10000000000000 0"); // a second button (coldplug loaded another driver)
    expect(watch.scan()).toEqual(["/dev/input/event2"]);
  });
});
