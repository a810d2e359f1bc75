// The DHCP fallback's choice of interface, over a fake /sys/class/net: physical
// Ethernet only (a `device` link, type 1), in name order.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethernetInterfaces } from "../../../src/init/mechanisms/dhcp-fallback.ts";

const root = mkdtempSync(join(tmpdir(), "minos-dhcp-fallback-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function iface(name: string, type: string, physical: boolean): void {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, "type"), `${type}\n`);
  if (physical) mkdirSync(join(root, name, "device"));
}

test("physical Ethernet interfaces only, in name order", () => {
  expect(ethernetInterfaces(root)).toEqual([]);
  iface("lo", "772", false); // ARPHRD_LOOPBACK
  iface("eth1", "1", true);
  iface("eth0", "1", true);
  iface("br0", "1", false); // a bridge: no device
  iface("veth9", "1", false);
  iface("wg0", "65534", true); // not Ethernet
  expect(ethernetInterfaces(root)).toEqual(["eth0", "eth1"]);
  expect(ethernetInterfaces(join(root, "absent"))).toEqual([]);
});
