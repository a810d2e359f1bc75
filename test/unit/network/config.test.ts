// machine.network's DHCP, deviceSelector, IPv6, resolver and hosts keys
// (Talos's names and defaults), and every bad value rejected with its YAML path.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../../src/init/config/machine.ts";
import { storeConfig } from "../../../src/init/config/store.ts";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";

const net = (yaml: string) => parseConfig(`version: v1alpha1\nmachine:\n  network:\n${yaml}`).machine.network;
function errorOf(yaml: string): string {
  try {
    net(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error("config was accepted");
}

describe("network config keys", () => {
  test("defaults: no hostname (DHCP or the MAC decides), no resolvers, search domain on, no host entries", () => {
    expect(net("    {}\n")).toEqual({ hostname: "", interfaces: [], nameservers: [], searchDomains: [], disableSearchDomain: false, extraHostEntries: [] });
  });

  test("dhcp, dhcpOptions (routeMetric 1024 and ipv4 true by default), deviceSelector, IPv6 addresses and routes", () => {
    const n = net(
      [
        "    nameservers: [1.1.1.1, 2606:4700:4700::1111]",
        "    searchDomains: [example.com, corp.example.com]",
        "    disableSearchDomain: true",
        "    extraHostEntries: [ { ip: 10.0.0.5, aliases: [db, db.local] }, { ip: 'fd00::5', aliases: [db6] } ]",
        "    interfaces:",
        "      - deviceSelector: { hardwareAddr: '52:54:00:*', driver: virtio_net, busPath: '0000:00:*', physical: true }",
        "        dhcp: true",
        "      - interface: eth1",
        "        dhcp: true",
        "        dhcpOptions: { routeMetric: 50, ipv4: false }",
        "        addresses: [2001:db8::10/64, 10.1.0.2/24]",
        "        routes: [ { network: '::/0', gateway: 'fe80::1' }, { network: 2001:db8:1::/48, gateway: 2001:db8::1, metric: 5 } ]",
      ].join("\n") + "\n",
    );
    expect(n.nameservers).toEqual(["1.1.1.1", "2606:4700:4700::1111"]);
    expect(n.searchDomains).toEqual(["example.com", "corp.example.com"]);
    expect(n.disableSearchDomain).toBe(true);
    expect(n.extraHostEntries).toEqual([
      { ip: "10.0.0.5", aliases: ["db", "db.local"] },
      { ip: "fd00::5", aliases: ["db6"] },
    ]);
    expect(n.interfaces[0]).toEqual({
      deviceSelector: { hardwareAddr: "52:54:00:*", driver: "virtio_net", busPath: "0000:00:*", physical: true },
      addresses: [],
      routes: [],
      dhcp: true,
      dhcpOptions: { routeMetric: 1024, ipv4: true, ipv6: false },
    });
    expect(n.interfaces[1]?.dhcpOptions).toEqual({ routeMetric: 50, ipv4: false, ipv6: false });
    expect(n.interfaces[1]?.addresses).toEqual(["2001:db8::10/64", "10.1.0.2/24"]);
    expect(n.interfaces[1]?.routes[1]).toEqual({ network: "2001:db8:1::/48", gateway: "2001:db8::1", metric: 5 });
  });

  test("every bad value is named by its YAML path", () => {
    const msg = errorOf(
      [
        "    hostname: Bad_Name",
        "    nameservers: [1.1.1, 'fd00::zz', 8.8.8.8]",
        "    searchDomains: ['bad domain']",
        "    disableSearchDomain: yes-please",
        "    extraHostEntries: [ { ip: 300.1.1.1, aliases: [ok] }, { aliases: [x] }, { ip: 10.0.0.1, aliases: ['no spaces'] } ]",
        "    interfaces:",
        "      - interface: eth0",
        "        deviceSelector: { driver: e1000e }",
        "      - dhcp: true",
        "      - interface: eth2",
        "        deviceSelector: {}",
        "      - interface: eth3",
        "        dhcpOptions: { routeMetric: -1, ipv6: true, bogus: 1 }",
        "        addresses: ['2001:db8::1/129', '2001:db8:::1/64']",
        "        routes: [ { network: '2001:db8::1/64' }, { network: 10.0.0.0/8, gateway: 'fd00::1' } ]",
      ].join("\n") + "\n",
    );
    for (const want of [
      'machine.network.hostname: "Bad_Name" is not a valid hostname',
      'machine.network.nameservers[0]: "1.1.1" is not an IPv4 address',
      'machine.network.nameservers[1]: "fd00::zz" is not an IPv6 address',
      'machine.network.searchDomains[0]: "bad domain" is not a valid hostname',
      "machine.network.disableSearchDomain: expected boolean, got string",
      'machine.network.extraHostEntries[0].ip: "300.1.1.1" is not an IPv4 address',
      "machine.network.extraHostEntries[1].ip: required",
      'machine.network.extraHostEntries[2].aliases[0]: "no spaces" is not a valid hostname',
      "machine.network.interfaces[0]: interface and deviceSelector are mutually exclusive",
      "machine.network.interfaces[1]: one of interface or deviceSelector is required",
      "machine.network.interfaces[2].deviceSelector: names no property to match",
      "machine.network.interfaces[3].dhcpOptions.routeMetric: must be at least 0, got -1",
      "machine.network.interfaces[3].dhcpOptions.bogus: unknown key",
      "machine.network.interfaces[3].dhcpOptions.ipv6: DHCPv6 is not supported by minos",
      'machine.network.interfaces[3].addresses[0]: "2001:db8::1/129" is not an IPv6 CIDR',
      'machine.network.interfaces[3].addresses[1]: "2001:db8:::1/64" is not an IPv6 CIDR',
      'machine.network.interfaces[3].routes[0].network: "2001:db8::1/64" has host bits set (did you mean 2001:db8::/64?)',
      'machine.network.interfaces[3].routes[1].gateway: "fd00::1" is not of the family of network "10.0.0.0/8"',
    ])
      expect(msg).toContain(want);
  });

  test("an invalid nameservers/extraHostEntries config is never stored: the stored one stays", () => {
    const dir = mkdtempSync(join(tmpdir(), "minos-netcfg-"));
    try {
      const path = join(dir, "config.yaml");
      const good = "version: v1alpha1\nmachine:\n  network:\n    nameservers: [1.1.1.1]\n";
      writeFileSync(path, good);
      const bad = "version: v1alpha1\nmachine:\n  network:\n    nameservers: [not-an-ip]\n    extraHostEntries: [ { ip: x } ]\n";
      expect(() => storeConfig(bad, path)).toThrow(/machine\.network\.nameservers\[0\][\s\S]*machine\.network\.extraHostEntries\[0\]\.ip/);
      expect(readFileSync(path, "utf8")).toBe(good);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
