// The network's pure parts: IPv6 text forms, resolv.conf/hosts content and
// precedence, the atomic write, the MAC-derived hostname, physical links and
// deviceSelector over a fake sysfs, and NetworkRuntime driven by a fake DHCP
// client (a lease bound, renewed with new DNS, expired: files rewritten live).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DhcpEvents, DhcpHandle, HostSettings, Lease, StartDhcpOptions } from "../../../src/dhcp/index.ts";
import { parseConfig } from "../../../src/init/config/machine.ts";
import { chooseHostname, hostnameFromMac, stableDefaultHostname } from "../../../src/init/mechanisms/hostname.ts";
import { listLinks, resolveEntry, selectorMismatch } from "../../../src/init/mechanisms/links.ts";
import { NetworkRuntime } from "../../../src/init/mechanisms/network-runtime.ts";
import { renderHosts, renderResolvConf, resolversFor, writeAtomic } from "../../../src/init/mechanisms/resolver.ts";
import { checkNetwork46, formatIpv6, ipv6Bytes, parseCidr6 } from "../../../src/lib/ipv6.ts";
import type { NewEvent } from "../../../src/node/events.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "minos-net-unit-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("IPv6 text", () => {
  test("parse and RFC 5952 output", () => {
    expect(formatIpv6(ipv6Bytes("2001:0db8:0000:0000:0000:0000:0000:0001")!)).toBe("2001:db8::1");
    expect(formatIpv6(ipv6Bytes("::")!)).toBe("::");
    expect(formatIpv6(ipv6Bytes("fe80::1:0:0:1")!)).toBe("fe80::1:0:0:1");
    expect(formatIpv6(ipv6Bytes("1:0:0:2:0:0:0:3")!)).toBe("1:0:0:2::3");
    expect([...ipv6Bytes("::ffff:10.0.2.15")!.slice(12)]).toEqual([10, 0, 2, 15]);
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "fe80", "g::1", "1:2:3:4:5:6:7::8:9"]) expect(ipv6Bytes(bad)).toBeUndefined();
    expect(parseCidr6("2001:DB8::10/64")).toEqual({ addr: "2001:db8::10", prefix: 64 });
    expect(checkNetwork46("::/0")).toBeUndefined();
    expect(checkNetwork46("2001:db8::1/64")).toContain("host bits");
  });
});

describe("resolv.conf and hosts", () => {
  const cfg = { nameservers: [] as string[], searchDomains: ["conf.example"], disableSearchDomain: false };
  const lease = { dns: ["10.0.0.53", "10.0.0.54"], search: ["lab.example"] };

  test("nameservers: config replaces DHCP's; search: config's then DHCP's unless disableSearchDomain; glibc's limits", () => {
    expect(resolversFor(cfg, [lease])).toEqual({ nameservers: ["10.0.0.53", "10.0.0.54"], search: ["conf.example", "lab.example"], source: "dhcp" });
    expect(resolversFor({ ...cfg, nameservers: ["1.1.1.1"] }, [lease])).toMatchObject({ nameservers: ["1.1.1.1"], source: "config" });
    expect(resolversFor({ ...cfg, disableSearchDomain: true }, [lease]).search).toEqual(["conf.example"]);
    expect(resolversFor({ nameservers: [], searchDomains: [], disableSearchDomain: false }, [])).toEqual({ nameservers: [], search: [], source: "none" });
    const many = resolversFor(cfg, [{ dns: ["1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4"], search: ["a", "b", "c", "d", "e", "f", "g"] }]);
    expect(many.nameservers).toHaveLength(3);
    expect(many.search).toHaveLength(6);
    expect(renderResolvConf({ nameservers: ["10.0.0.53"], search: ["a.example"], source: "dhcp" })).toMatch(/^nameserver 10\.0\.0\.53\nsearch a\.example\n$/m);
  });

  test("a DHCP server's names are untrusted: a newline or space never reaches resolv.conf, hosts or the hostname", () => {
    const evil = { dns: ["10.0.0.53"], search: ["ok.example", "x.example\nnameserver 6.6.6.6", "a b"] };
    const r = resolversFor({ nameservers: [], searchDomains: [], disableSearchDomain: false }, [evil]);
    expect(r.search).toEqual(["ok.example"]);
    expect(renderResolvConf(r)).not.toContain("6.6.6.6");
    expect(renderHosts("node-a", "lab\n10.6.6.6 bank.example", [])).not.toContain("bank");
    expect(chooseHostname("", ["evil name\n", "good-one"], "minos-abc-def")).toEqual({ name: "good-one", source: "dhcp" });
    expect(chooseHostname("", ["-bad"], "minos-abc-def").source).toBe("default");
  });

  test("hosts: localhost, the node's name (with its domain), extraHostEntries", () => {
    const h = renderHosts("node-a", "lab.example", [
      { ip: "10.0.0.5", aliases: ["db", "db.local"] },
      { ip: "10.0.0.6", aliases: [] },
    ]);
    expect(h).toMatch(/^127\.0\.0\.1 localhost$/m);
    expect(h).toMatch(/^::1 localhost ip6-localhost ip6-loopback$/m);
    expect(h).toMatch(/^127\.0\.1\.1 node-a\.lab\.example node-a$/m);
    expect(h).toMatch(/^10\.0\.0\.5 db db\.local$/m);
    expect(h).not.toContain("10.0.0.6");
  });

  test("writeAtomic: a rename over the old file (a reader never sees half), nothing left behind, no rewrite when equal", () => {
    const d = tmp();
    const p = join(d, "resolv.conf");
    writeFileSync(p, "old\n");
    expect(writeAtomic(p, "new\n")).toBe(true);
    expect(readFileSync(p, "utf8")).toBe("new\n");
    expect(writeAtomic(p, "new\n")).toBe(false);
    expect(readdirSync(d)).toEqual(["resolv.conf"]);
  });
});

describe("hostname", () => {
  test("stable, Talos-style minos-xxx-yyy from the first physical link's MAC; config > DHCP > default", () => {
    const a = hostnameFromMac("52:54:00:12:34:56");
    expect(a).toMatch(/^minos-[0-9a-z]{3}-[0-9a-z]{3}$/);
    expect(hostnameFromMac("52:54:00:12:34:56")).toBe(a);
    expect(hostnameFromMac("52:54:00:12:34:57")).not.toBe(a);
    const links = [
      { name: "eth0", hardwareAddr: "52:54:00:12:34:56", physical: true },
      { name: "veth1", hardwareAddr: "02:00:00:00:00:01", physical: false },
    ];
    expect(stableDefaultHostname(links)).toBe(a);
    expect(stableDefaultHostname([links[1]!])).toBe("minos");
    expect(chooseHostname("cfg-node", ["dhcp-node"], a)).toEqual({ name: "cfg-node", source: "config" });
    expect(chooseHostname("", [undefined, "Dhcp-Node.lab.example"], a)).toEqual({ name: "dhcp-node", source: "dhcp" });
    expect(chooseHostname("", [], a)).toEqual({ name: a, source: "default" });
  });
});

describe("links and deviceSelector (fake sysfs)", () => {
  function fakeSysfs(): string {
    const root = tmp();
    const net = join(root, "class/net");
    const dev = join(root, "devices/pci0000:00/0000:00:03.0/virtio0");
    mkdirSync(join(root, "drivers/virtio_net"), { recursive: true });
    mkdirSync(dev, { recursive: true });
    symlinkSync(join(root, "drivers/virtio_net"), join(dev, "driver"));
    for (const [name, mac, type, device] of [
      ["eth0", "52:54:00:AB:CD:EF", "1", dev],
      ["lo", "00:00:00:00:00:00", "772", undefined],
      ["veth9", "02:00:5e:00:00:09", "1", undefined],
    ] as const) {
      mkdirSync(join(net, name), { recursive: true });
      writeFileSync(join(net, name, "address"), `${mac}\n`);
      writeFileSync(join(net, name, "type"), `${type}\n`);
      if (device) symlinkSync(device, join(net, name, "device"));
    }
    return net;
  }

  test("physical = Ethernet with a device (veth and lo are not); driver and bus path read from the device", () => {
    const links = listLinks(fakeSysfs());
    expect(links.map((l) => [l.name, l.physical])).toEqual([
      ["eth0", true],
      ["lo", false],
      ["veth9", false],
    ]);
    expect(links[0]).toMatchObject({ hardwareAddr: "52:54:00:ab:cd:ef", driver: "virtio_net", busPath: "0000:00:03.0" });
  });

  test("selectors match every given property, as globs; the entry resolves to the first matching link", () => {
    const links = listLinks(fakeSysfs());
    const eth0 = links[0]!;
    expect(selectorMismatch({ hardwareAddr: "52:54:00:*" }, eth0)).toBeUndefined();
    expect(selectorMismatch({ hardwareAddr: "52:54:00:AB:*", driver: "virtio*", busPath: "0000:00:*", physical: true }, eth0)).toBeUndefined();
    expect(selectorMismatch({ driver: "e1000e" }, eth0)).toContain('driver "virtio_net" does not match "e1000e"');
    expect(selectorMismatch({ physical: true }, links[2]!)).toContain("physical is false");
    const entry = parseConfig("version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - deviceSelector: { hardwareAddr: '02:00:5e:*' }\n").machine
      .network.interfaces[0]!;
    expect(resolveEntry(entry, links)?.name).toBe("veth9");
  });
});

describe("NetworkRuntime with a fake DHCP client", () => {
  class FakeDhcp implements DhcpHandle {
    private readonly fns = new Map<string, ((...a: never[]) => void)[]>();
    released = false;
    held: Lease | undefined;
    constructor(readonly opts: StartDhcpOptions) {}
    on<E extends keyof DhcpEvents>(event: E, fn: DhcpEvents[E]): () => void {
      const list = this.fns.get(event) ?? [];
      list.push(fn as (...a: never[]) => void);
      this.fns.set(event, list);
      return () => {};
    }
    fire<E extends keyof DhcpEvents>(event: E, ...args: Parameters<DhcpEvents[E]>): void {
      for (const f of this.fns.get(event) ?? []) (f as unknown as (...a: Parameters<DhcpEvents[E]>) => void)(...args);
    }
    /** What the real client does on a lease: the applier's host settings first, then the event. */
    give(event: "bound" | "renewed", l: Lease): void {
      this.held = l;
      const s: HostSettings = { dns: l.dns, search: l.search.length ? l.search : l.domainName ? [l.domainName] : [] };
      if (l.domainName) s.domainName = l.domainName;
      if (l.hostname) s.hostname = l.hostname;
      this.opts.onHostSettings?.(s, l);
      this.fire(event, l);
    }
    async stop(release: boolean): Promise<void> {
      this.released = release;
    }
    lease(): Lease | undefined {
      return this.held;
    }
    state() {
      return this.held ? ("bound" as const) : ("selecting" as const);
    }
  }

  const lease = (dns: string[], hostname?: string): Lease => ({
    address: "10.77.0.42",
    prefix: 24,
    serverId: "10.77.0.1",
    leaseSeconds: 120,
    t1Seconds: 60,
    t2Seconds: 105,
    routers: ["10.77.0.1"],
    classlessRoutes: [],
    dns,
    search: [],
    domainName: "lab.example",
    ...(hostname ? { hostname } : {}),
    obtainedAt: performance.now(),
  });

  test("bound → hostname, resolv.conf, hosts; renewed with other DNS → rewritten; expired → DHCP's part gone; stopAll releases", async () => {
    const d = tmp();
    const paths = { resolvConf: join(d, "resolv.conf"), hosts: join(d, "hosts") };
    const names: string[] = [];
    const events: NewEvent[] = [];
    let fake: FakeDhcp | undefined;
    const network = parseConfig("version: v1alpha1\nmachine:\n  network:\n    extraHostEntries: [ { ip: 10.0.0.9, aliases: [db] } ]\n").machine.network;
    const rt = new NetworkRuntime({
      log: { info: () => {}, warn: () => {} },
      emit: (e) => events.push(e),
      config: () => network,
      setHostname: (n) => names.push(n),
      apiPort: () => 50000,
      paths,
      startDhcp: (_if, opts) => (fake = new FakeDhcp(opts)),
    });
    rt.setStableDefaultHostname("minos-abc-def");
    rt.refresh("boot");
    expect(names).toEqual(["minos-abc-def"]);
    expect(readFileSync(paths.resolvConf, "utf8")).not.toMatch(/^nameserver /m);
    rt.startDhcp("dh0", 100);
    expect(fake!.opts.routeMetric).toBe(100);
    const waiting = rt.waitForLeases(1000);
    fake!.give("bound", lease(["10.77.0.53"], "node-a"));
    expect(await waiting).toBe(true);
    expect(names.at(-1)).toBe("node-a");
    expect(readFileSync(paths.resolvConf, "utf8")).toContain("nameserver 10.77.0.53\nsearch lab.example\n");
    expect(readFileSync(paths.hosts, "utf8")).toMatch(/^127\.0\.1\.1 node-a\.lab\.example node-a$/m);
    expect(readFileSync(paths.hosts, "utf8")).toMatch(/^10\.0\.0\.9 db$/m);
    fake!.give("renewed", lease(["10.77.0.60"], "node-a"));
    expect(readFileSync(paths.resolvConf, "utf8")).toContain("nameserver 10.77.0.60\n");
    expect(rt.resolverStatus()).toMatchObject({ nameservers: ["10.77.0.60"], hostname: "node-a", hostnameSource: "dhcp" });
    expect(rt.leases()[0]).toMatchObject({ link: "dh0", address: "10.77.0.42", state: "bound" });
    fake!.held = undefined;
    fake!.fire("expired", lease(["10.77.0.60"]), "expired");
    expect(readFileSync(paths.resolvConf, "utf8")).not.toMatch(/^nameserver /m);
    expect(names.at(-1)).toBe("minos-abc-def");
    expect(await rt.stopAll(true)).toEqual(["dh0 (no lease)"]);
    expect(fake!.released).toBe(true);
    expect(events.some((e) => e.kind === "address")).toBe(true);
  });

  test("waitForLeases is bounded: false after the wait when no lease comes", async () => {
    const rt = new NetworkRuntime({
      log: { info: () => {}, warn: () => {} },
      emit: () => {},
      config: () => parseConfig("version: v1alpha1\n").machine.network,
      setHostname: () => {},
      apiPort: () => undefined,
      paths: { resolvConf: join(tmp(), "r"), hosts: join(tmp(), "h") },
      startDhcp: (_if, opts) => new FakeDhcp(opts),
    });
    rt.startDhcp("dh0", undefined);
    const t0 = performance.now();
    expect(await rt.waitForLeases(150)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });
});
