// machine.install: Talos's v1alpha1 InstallConfig, the part minos acts on
// today (the disk, its selector, wipe) plus the keys Talos configs carry that
// belong to the bootloader install still to come (image, extraKernelArgs,
// bootloader, legacyBIOSSupport): accepted with Talos's defaults and types so
// a Talos config parses, not yet acted on. The schema is src/config/v1alpha1.ts;
// this file holds what init does with it.
//
//   machine:
//     install:
//       disk: /dev/vda                 # or diskSelector (disk wins when both are set, as in Talos)
//       diskSelector: { size: ">= 4GB", model: "QEMU*", type: ssd, busPath: "/pci0000:00/*" }
//       wipe: false                    # true: erase a disk that holds foreign partitions or filesystems
import { validateSelector, type DiskSelector } from "../../disks/index.ts";

/** What minos acts on of machine.install (src/config/v1alpha1.ts types and validates the whole of it). */
export interface InstallConfig {
  disk?: string;
  diskSelector?: DiskSelector;
  wipe: boolean;
  image?: string;
  extraKernelArgs?: string[];
  bootloader?: boolean;
  legacyBIOSSupport?: boolean;
}

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
