// machine.install: Talos's v1alpha1 InstallConfig, the part minos acts on
// today (the disk, its selector, wipe) plus the keys Talos configs carry that
// belong to the bootloader install still to come (image, extraKernelArgs,
// bootloader, legacyBIOSSupport): accepted with Talos's defaults and types so
// a Talos config parses, not yet acted on. Kept apart from machine.ts so the
// full Talos schema (src/config/) can take it over as one piece.
//
//   machine:
//     install:
//       disk: /dev/vda                 # or diskSelector (disk wins when both are set, as in Talos)
//       diskSelector: { size: ">= 4GB", model: "QEMU*", type: ssd, busPath: "/pci0000:00/*" }
//       wipe: false                    # true: erase a disk that holds foreign partitions or filesystems
import { validateSelector, type DiskSelector } from "../../disks/index.ts";
import { bool, list, obj, opt, str, type Field } from "./schema.ts";

export interface InstallConfig {
  disk?: string;
  diskSelector?: DiskSelector;
  wipe: boolean;
  image?: string;
  extraKernelArgs: string[];
  bootloader: boolean;
  legacyBIOSSupport: boolean;
}

const devPath = (v: string) => (/^\/dev\/[^\s]+$/.test(v) && !v.split("/").includes("..") ? undefined : `"${v}" must be a device path under /dev`);
const selectorType = (v: string) => (["ssd", "hdd", "nvme", "sd"].includes(v) ? undefined : `"${v}" is not one of ssd, hdd, nvme, sd`);

/** The `machine.install` field of the machine schema. */
export const INSTALL_FIELD: Field = opt(
  obj({
    disk: opt(str({ check: devPath })),
    diskSelector: opt(
      obj({
        size: opt(str()),
        name: opt(str()),
        model: opt(str()),
        serial: opt(str()),
        modalias: opt(str()),
        uuid: opt(str()),
        wwid: opt(str()),
        type: opt(str({ check: selectorType })),
        busPath: opt(str()),
      }),
    ),
    wipe: opt(bool(), () => false),
    image: opt(str()),
    extraKernelArgs: opt(list(str()), () => []),
    bootloader: opt(bool(), () => true),
    legacyBIOSSupport: opt(bool(), () => false),
  }),
);

/** Cross-field checks: a selector's size syntax (the walker only sees a string). */
export function checkInstall(install: InstallConfig | undefined, errors: string[]): void {
  if (!install?.diskSelector) return;
  try {
    validateSelector(install.diskSelector);
  } catch (e) {
    errors.push((e as Error).message);
  }
}

/** Whether the config asks for an install disk at all. */
export function wantsInstall(install: InstallConfig | undefined): install is InstallConfig {
  return install !== undefined && (install.disk !== undefined || install.diskSelector !== undefined);
}
