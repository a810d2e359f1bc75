// The node's network links as sysfs shows them (/sys/class/net), and which of
// them a machine.network.interfaces entry means: by name, or by Talos's
// deviceSelector (hardwareAddr, driver, busPath as globs; physical).
//
// "Physical" is Talos's rule (LinkStatusSpec.Physical: an Ethernet link with no
// rtnetlink kind), approximated from sysfs: type 1 (ARPHRD_ETHER) and a
// `device` link to the hardware. veth, bridge, bond, dummy, tun have no device;
// lo is not Ethernet. So the default DHCP never runs on a sandbox test's veth:
// such a test names the veth with `dhcp: true`.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { glob } from "../../disks/selector.ts";
import type { DeviceSelector, NetworkInterface } from "../config/machine.ts";

export const SYS_CLASS_NET = "/sys/class/net";

export interface LinkInfo {
  name: string;
  /** Lower case, colon separated. */
  hardwareAddr: string;
  /** The bound driver's name (virtio_net, e1000e); undefined without a device. */
  driver?: string;
  /** The device's bus address: the PCI function (0000:00:03.0) even behind virtio, else the device's name. */
  busPath?: string;
  physical: boolean;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Every link in `root` (default /sys/class/net), sorted by name. */
export function listLinks(root = SYS_CLASS_NET): LinkInfo[] {
  let names: string[];
  try {
    names = readdirSync(root).sort();
  } catch {
    return [];
  }
  return names.map((name) => linkInfo(name, root));
}

export function linkInfo(name: string, root = SYS_CLASS_NET): LinkInfo {
  const dir = join(root, name);
  const device = join(dir, "device");
  const hasDevice = existsSync(device);
  const info: LinkInfo = {
    name,
    hardwareAddr: (read(join(dir, "address")) ?? "").toLowerCase(),
    physical: hasDevice && read(join(dir, "type")) === "1",
  };
  if (hasDevice) {
    try {
      info.driver = basename(readlinkSync(join(device, "driver")));
    } catch {}
    try {
      const real = realpathSync(device);
      // virtio-net's device is virtioN under its PCI function: the bus address is the parent's.
      info.busPath = /^virtio\d+$/.test(basename(real)) ? basename(dirname(real)) : basename(real);
    } catch {}
  }
  return info;
}

/** Carrier (the kernel's operstate view of the cable); false while the link is down or has none. */
export function hasCarrier(name: string, root = SYS_CLASS_NET): boolean {
  return read(join(root, name, "carrier")) === "1";
}

/**
 * Carrier, and the kernel done acting on it: operstate "up" is set by the
 * link watch right before it attaches the real qdisc, and until then every
 * packet is dropped — a DISCOVER sent at IFF_UP would be lost and cost RFC
 * 2131's 4 s retransmission. ("unknown": a driver that reports no operstate.)
 */
export function linkReady(name: string, root = SYS_CLASS_NET): boolean {
  const op = read(join(root, name, "operstate"));
  return hasCarrier(name, root) && (op === "up" || op === "unknown");
}

/** Why `link` does not match `sel`, or undefined when it does (every given property must match). */
export function selectorMismatch(sel: DeviceSelector, link: LinkInfo): string | undefined {
  if (sel.physical !== undefined && sel.physical !== link.physical) return `physical is ${link.physical}`;
  const fields: [keyof DeviceSelector & string, string | undefined, string | undefined][] = [
    ["hardwareAddr", sel.hardwareAddr?.toLowerCase(), link.hardwareAddr],
    ["driver", sel.driver, link.driver],
    ["busPath", sel.busPath, link.busPath],
  ];
  for (const [field, pattern, value] of fields) {
    if (pattern === undefined) continue;
    if (value === undefined) return `no ${field}`;
    if (!glob(pattern, value)) return `${field} "${value}" does not match "${pattern}"`;
  }
  return undefined;
}

/** Words for the log: how an entry names its link. */
export function describeEntry(i: NetworkInterface): string {
  if (i.interface !== undefined) return i.interface;
  const s = i.deviceSelector ?? {};
  return `deviceSelector{${Object.entries(s)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(", ")}}`;
}

/** The link an entry means among `links`: by name, or the first (by name) its selector matches. */
export function resolveEntry(i: NetworkInterface, links: readonly LinkInfo[]): LinkInfo | undefined {
  if (i.interface !== undefined) return links.find((l) => l.name === i.interface);
  const sel = i.deviceSelector;
  return sel ? links.find((l) => selectorMismatch(sel, l) === undefined) : undefined;
}
