// Static IPv4: the machine config's machine.network.interfaces (validation,
// messages with their YAML path), the kernel cmdline's ip= form, which source
// wins; the udev coldplug's list of uevent files; and, in the sandbox's own
// network namespace, an address, an on-link route and an MTU applied to lo
// through rtnetlink and the interface ioctls, read back from the host.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../../src/init/config/machine.ts";
import { interfaceFromIpParam, networkPlan } from "../../../src/init/mechanisms/network.ts";
import { netmaskPrefix } from "../../../src/lib/ipv4.ts";
import { coldplugTargets } from "../../../src/init/mechanisms/udev.ts";

const cfg = (network: string) => parseConfig(`version: v1alpha1\nmachine:\n  network:\n${network}`);

describe("network config", () => {
  test("interfaces: addresses, routes, mtu, with defaults", () => {
    const c = cfg(
      "    interfaces:\n      - interface: eth0\n        addresses: [10.0.2.15/24, 192.168.1.2/32]\n        routes: [ { network: 0.0.0.0/0, gateway: 10.0.2.2 }, { network: 10.9.0.0/16, metric: 5 } ]\n        mtu: 1400\n      - interface: eth1\n",
    );
    expect(c.machine.network.interfaces).toEqual([
      {
        interface: "eth0",
        addresses: ["10.0.2.15/24", "192.168.1.2/32"],
        routes: [
          { network: "0.0.0.0/0", gateway: "10.0.2.2" },
          { network: "10.9.0.0/16", metric: 5 },
        ],
        mtu: 1400,
        dhcp: false,
        dhcpOptions: { routeMetric: 1024, ipv4: true, ipv6: false },
      },
      { interface: "eth1", addresses: [], routes: [], dhcp: false, dhcpOptions: { routeMetric: 1024, ipv4: true, ipv6: false } },
    ]);
    expect(parseConfig("version: v1alpha1\n").machine.network.interfaces).toEqual([]);
  });

  test("every bad value is named by its path", () => {
    const bad = [
      "    interfaces:",
      "      - interface: eth0/1",
      "        addresses: [10.0.2.300/24, 10.0.2.15, fd00::1/129]",
      "        routes: [ { network: 10.0.2.1/24, gateway: 10.0.2 }, { gateway: 10.0.2.2 } ]",
      "        mtu: 20",
      "        dhcp: maybe",
      "        bogus: true",
      "      - interface: eth0",
      "      - interface: eth0",
    ].join("\n");
    let msg = "";
    try {
      cfg(bad + "\n");
    } catch (e) {
      msg = String(e);
    }
    for (const want of [
      'machine.network.interfaces[0].interface: "eth0/1" is not a valid interface name',
      'machine.network.interfaces[0].addresses[0]: "10.0.2.300/24" is not an IPv4 CIDR',
      'machine.network.interfaces[0].addresses[1]: "10.0.2.15" is not an IPv4 CIDR',
      'machine.network.interfaces[0].addresses[2]: "fd00::1/129" is not an IPv6 CIDR',
      'machine.network.interfaces[0].routes[0].network: "10.0.2.1/24" has host bits set (did you mean 10.0.2.0/24?)',
      'machine.network.interfaces[0].routes[0].gateway: "10.0.2" is not an IPv4 address',
      "machine.network.interfaces[0].routes[1].network: required",
      "machine.network.interfaces[0].mtu: must be at least 68, got 20",
      "machine.network.interfaces[0].dhcp: expected boolean, got string",
      "machine.network.interfaces[0].bogus: unknown key",
      'machine.network.interfaces[2].interface: "eth0" is configured twice',
    ])
      expect(msg).toContain(want);
  });

  test("ip=<client>::<gw>:<netmask>:<hostname>:<device>:off", () => {
    expect(interfaceFromIpParam("10.0.2.15::10.0.2.2:255.255.255.0::eth0:off")).toEqual({
      iface: { interface: "eth0", addresses: ["10.0.2.15/24"], routes: [{ network: "0.0.0.0/0", gateway: "10.0.2.2" }] },
    });
    expect(interfaceFromIpParam("192.168.7.9:::255.255.0.0:node:enp1s0")).toEqual({
      iface: { interface: "enp1s0", addresses: ["192.168.7.9/16"], routes: [] },
    });
    expect(interfaceFromIpParam("dhcp")).toEqual({ ignored: expect.stringContaining("not a static ip=") });
    expect(interfaceFromIpParam("10.0.2.15::10.0.2.2:255.255.255.0::eth0:dhcp")).toEqual({ ignored: expect.stringContaining("not a static ip=") });
    expect(interfaceFromIpParam("10.0.2.15::10.0.2.2:255.255.255.0::")).toEqual({ ignored: expect.stringContaining("no device named") });
    expect(interfaceFromIpParam("10.0.2.15::10.0.2.2:255.0.255.0::eth0:off")).toEqual({ ignored: expect.stringContaining("not a contiguous") });
    expect(
      [0, 8, 24, 31, 32].map((p) =>
        netmaskPrefix(["0.0.0.0", "255.0.0.0", "255.255.255.0", "255.255.255.254", "255.255.255.255"][[0, 8, 24, 31, 32].indexOf(p)]!),
      ),
    ).toEqual([0, 8, 24, 31, 32]);
  });

  test("the config's interfaces win over ip=; ip= is used when the config has none", () => {
    const eth1 = { interface: "eth1", addresses: ["10.1.0.2/24"], routes: [] };
    const ip = "10.0.2.15::10.0.2.2:255.255.255.0::eth0:off";
    expect(networkPlan([eth1], ip)).toEqual({
      source: "machine.network.interfaces",
      interfaces: [eth1],
      notes: [`ip=${ip} ignored: the machine config has interfaces`],
    });
    expect(networkPlan([], ip).interfaces[0]?.interface).toBe("eth0");
    expect(networkPlan([], undefined)).toEqual({ source: "none", interfaces: [], notes: [] });
  });
});

describe("udev coldplug", () => {
  test("subsystems first (modules, buses, drivers), then devices parent-first, never through symlinks", () => {
    const sys = mkdtempSync(join(tmpdir(), "minos-sysfs-"));
    try {
      const dev = (p: string) => {
        mkdirSync(join(sys, p), { recursive: true });
        writeFileSync(join(sys, p, "uevent"), "");
      };
      dev("module/virtio_net");
      dev("bus/pci");
      dev("bus/pci/drivers/virtio-pci");
      dev("devices/pci0000:00");
      dev("devices/pci0000:00/0000:00:02.0");
      dev("devices/pci0000:00/0000:00:02.0/virtio0/net/eth0");
      mkdirSync(join(sys, "devices/virtual/empty"), { recursive: true }); // no uevent file: not written
      symlinkSync("../../..", join(sys, "devices/pci0000:00/0000:00:02.0/subsystem")); // would loop
      const t = coldplugTargets(sys);
      expect(t.subsystems.map((f) => f.slice(sys.length))).toEqual(["/module/virtio_net/uevent", "/bus/pci/uevent", "/bus/pci/drivers/virtio-pci/uevent"]);
      expect(t.devices.map((f) => f.slice(sys.length))).toEqual([
        "/devices/pci0000:00/uevent",
        "/devices/pci0000:00/0000:00:02.0/uevent",
        "/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0/uevent",
      ]);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });
});
