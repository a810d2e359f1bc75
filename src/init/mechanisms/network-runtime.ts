// The node's live network, after the boot phase configured it: one DHCPv4
// client per DHCP link (src/dhcp), and what follows from their leases —
// the hostname (config > DHCP option 12 > the MAC-derived default),
// /etc/resolv.conf and /etc/hosts (rewritten atomically whenever a bound,
// renewed or expired lease changes them), the "API at <address>:50000"
// console line per new address, and Talos's AddressEvent when the node's set
// of addresses changes. The machine API reads its status (addresses and routes
// straight from the kernel), the power sequences release the leases.
import { startDhcp as realStartDhcp, type DhcpHandle, type HostSettings, type Lease, type StartDhcpOptions } from "../../dhcp/index.ts";
import type { ArpProbeTiming } from "../../dhcp/arp.ts";
import { ipv6Bytes, formatIpv6 } from "../../lib/ipv6.ts";
import type { NewEvent } from "../../node/events.ts";
import type { AddressStatus, DhcpLeaseStatus, ResolverStatus, RouteStatus } from "../../node/network.ts";
import { dumpAddresses, dumpRoutes, IFA_F, type KernelAddress } from "../../sys/net-dump.ts";
import type { NetworkConfig } from "../config/machine.ts";
import { chooseHostname, FALLBACK_HOSTNAME } from "./hostname.ts";
import { HOSTS, RESOLV_CONF, renderHosts, renderResolvConf, resolversFor, safeDnsName, writeAtomic, type Resolvers } from "./resolver.ts";
import { errText } from "./log.ts";
import { readdirSync, readFileSync } from "node:fs";

/**
 * The ARP probe at boot: 2 probes 100–200 ms apart and a 300 ms quiet wait
 * (≈ 0.5 s) instead of RFC 5227's 3 probes 1–2 s apart and 2 s (≈ 4–7 s). A
 * conflicting host on a LAN answers an ARP request within milliseconds, so the
 * short probe still catches a taken address (and DECLINEs it); the RFC's
 * timing guards slow and lossy links, at 4–7 s of every boot. Talos probes
 * nothing; systemd-networkd probes only when asked.
 */
export const BOOT_ARP_PROBE: ArpProbeTiming = { probes: 2, minIntervalMs: 100, maxIntervalMs: 200, waitMs: 300 };

/** How often the kernel's address set is compared for SLAAC addresses that come and go on their own. */
export const ADDRESS_WATCH_MS = 5000;

export interface NetworkLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface NetworkRuntimeOptions {
  log: NetworkLog;
  emit(e: NewEvent): void;
  config(): NetworkConfig;
  setHostname(name: string): void;
  /** The kernel's hostname now (os.hostname); without it the first refresh always sets one. */
  currentHostname?: () => string;
  /** The API's TCP port when it listens on TCP (the console line names it). */
  apiPort(): number | undefined;
  paths?: { resolvConf: string; hosts: string };
  /** For tests: another DHCP starter. */
  startDhcp?: (ifname: string, opts: StartDhcpOptions) => DhcpHandle;
  arpProbe?: ArpProbeTiming | false;
}

interface DhcpLink {
  handle: DhcpHandle;
  lease?: Lease;
  settings?: HostSettings;
  startedAt: number;
}

export class NetworkRuntime {
  private readonly dhcp = new Map<string, DhcpLink>();
  /** Links and the CIDRs the config put on them (for "origin" in the status). */
  private readonly staticAddrs = new Map<string, Set<string>>();
  private stableDefault = FALLBACK_HOSTNAME;
  private currentHostname: { name: string; source: "config" | "dhcp" | "default" } | undefined;
  private resolvers: Resolvers = { nameservers: [], search: [], source: "none" };
  private lastAddresses = "";
  private watch: ReturnType<typeof setInterval> | undefined;
  private readonly boundWaiters = new Set<() => void>();
  private readonly stops: (() => void)[] = [];

  constructor(private readonly o: NetworkRuntimeOptions) {}

  setStableDefaultHostname(name: string): void {
    this.stableDefault = name;
  }

  recordStatic(link: string, cidrs: readonly string[]): void {
    const set = this.staticAddrs.get(link) ?? new Set<string>();
    for (const c of cidrs) set.add(normalizeCidr(c));
    this.staticAddrs.set(link, set);
  }

  /** Starts DHCPv4 on `ifname` (up already, since `linkUpAt`: the "bound in N ms" counts from there). */
  startDhcp(ifname: string, routeMetric: number | undefined, linkUpAt = performance.now()): DhcpHandle {
    const start = this.o.startDhcp ?? realStartDhcp;
    const link: DhcpLink = { startedAt: linkUpAt } as DhcpLink;
    const opts: StartDhcpOptions = {
      arpProbe: this.o.arpProbe ?? BOOT_ARP_PROBE,
      onHostSettings: (s) => {
        link.settings = s;
        const odd = [...(s.hostname ? [s.hostname] : []), ...(s.domainName ? [s.domainName] : []), ...s.search].filter((n) => !safeDnsName(n));
        if (odd.length) this.o.log.warn(`dhcp ${ifname}: names passed over (not DNS names): ${odd.map((n) => JSON.stringify(n)).join(", ")}`);
      },
    };
    if (routeMetric !== undefined) opts.routeMetric = routeMetric;
    const configured = this.o.config().hostname;
    if (configured) opts.hostname = configured; // option 12 in our requests: the server may register it
    link.handle = start(ifname, opts);
    this.dhcp.set(ifname, link);
    link.handle.on("bound", (lease) => {
      link.lease = lease;
      const ms = performance.now() - link.startedAt;
      this.o.log.info(
        `dhcp ${ifname}: bound ${lease.address}/${lease.prefix} from ${lease.serverId} in ${ms.toFixed(0)} ms since link up (lease ${lease.leaseSeconds} s, T1 ${lease.t1Seconds} s)`,
      );
      this.refresh(`dhcp ${ifname} bound`);
      for (const w of [...this.boundWaiters]) w();
    });
    link.handle.on("renewed", (lease) => {
      link.lease = lease;
      this.o.log.info(`dhcp ${ifname}: renewed ${lease.address}/${lease.prefix} (lease ${lease.leaseSeconds} s)`);
      this.refresh(`dhcp ${ifname} renewed`);
    });
    link.handle.on("expired", (lease, reason) => {
      link.lease = undefined;
      link.settings = undefined;
      this.o.log.warn(`dhcp ${ifname}: ${lease.address}/${lease.prefix} removed (${reason})`);
      this.refresh(`dhcp ${ifname} ${reason}`);
    });
    link.handle.on("ignored", (reason) => this.o.log.warn(`dhcp ${ifname}: ignored a packet: ${reason}`));
    link.handle.on("log", (line) => this.o.log.info(`dhcp ${ifname}: ${line}`));
    link.handle.on("error", (e) => this.o.log.warn(`dhcp ${ifname}: ${errText(e)}`));
    return link.handle;
  }

  /** Resolves true once every DHCP link is bound, false after `ms` (the boot's bounded wait) or when aborted. */
  async waitForLeases(ms: number, signal?: AbortSignal): Promise<boolean> {
    const allBound = () => [...this.dhcp.values()].every((l) => l.lease !== undefined);
    if (allBound()) return true;
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.boundWaiters.delete(check);
        signal?.removeEventListener("abort", abort);
        resolve(v);
      };
      const check = () => allBound() && done(true);
      const abort = () => done(false);
      const timer = setTimeout(() => done(allBound()), ms);
      this.boundWaiters.add(check);
      signal?.addEventListener("abort", abort, { once: true });
    });
  }

  dhcpLinks(): string[] {
    return [...this.dhcp.keys()];
  }

  /**
   * Recomputes hostname and resolvers from the config and the leases; writes
   * what changed; announces new addresses. Never throws: a failed write is
   * logged and retried at the next lease event.
   */
  refresh(why: string): void {
    const net = this.o.config();
    const leases = [...this.dhcp.entries()].filter(([, l]) => l.lease && l.settings).sort(([a], [b]) => a.localeCompare(b));
    const settings = leases.map(([, l]) => l.settings!);
    const host = chooseHostname(
      net.hostname,
      settings.map((s) => s.hostname),
      this.stableDefault,
    );
    // Already the kernel's (the system phase set the config's): nothing to set or say.
    if (host.name !== (this.currentHostname?.name ?? this.o.currentHostname?.())) {
      try {
        this.o.setHostname(host.name);
        this.o.log.info(`hostname ${host.name} (from ${host.source}${why ? `; ${why}` : ""})`);
      } catch (e) {
        this.o.log.warn(`hostname ${host.name}: ${errText(e)}`);
      }
    }
    this.currentHostname = host;
    this.resolvers = resolversFor(net, settings);
    const domain = settings.find((s) => s.domainName)?.domainName;
    const paths = this.o.paths ?? { resolvConf: RESOLV_CONF, hosts: HOSTS };
    for (const [path, content] of [
      [paths.resolvConf, renderResolvConf(this.resolvers)],
      [paths.hosts, renderHosts(host.name, domain, net.extraHostEntries)],
    ] as const) {
      try {
        if (writeAtomic(path, content))
          this.o.log.info(
            `wrote ${path}${path === paths.resolvConf ? `: ${this.resolvers.nameservers.join(" ") || "no nameservers"}${this.resolvers.search.length ? `; search ${this.resolvers.search.join(" ")}` : ""}` : ""}`,
          );
      } catch (e) {
        this.o.log.warn(`${path}: ${errText(e)}`);
      }
    }
    this.checkAddresses();
  }

  /** Compares the kernel's global addresses with the last seen: new ones go to the console, any change is an AddressEvent. */
  checkAddresses(): void {
    let addrs: AddressStatus[];
    try {
      addrs = this.addresses().filter((a) => a.scope === "global" && !a.flags.includes("tentative") && !a.flags.includes("dadfailed"));
    } catch (e) {
      this.o.log.warn(`address dump: ${errText(e)}`);
      return;
    }
    const key = addrs.map((a) => `${a.link} ${a.address}`).join(",");
    if (key === this.lastAddresses) return;
    const before = new Set(this.lastAddresses.split(",").filter(Boolean));
    this.lastAddresses = key;
    const port = this.o.apiPort();
    for (const a of addrs) {
      if (before.has(`${a.link} ${a.address}`)) continue;
      const ip = a.address.slice(0, a.address.indexOf("/"));
      // One line per address, at the console, so an operator knows where to point minosctl.
      if (port !== undefined) this.o.log.info(`API at ${a.family === "inet6" ? `[${ip}]` : ip}:${port} (${a.link}, ${a.origin})`);
      else this.o.log.info(`address ${a.address} on ${a.link} (${a.origin}; no machine.ca: the API listens on its local socket only)`);
    }
    this.o.emit({ kind: "address", hostname: this.currentHostname?.name ?? "", addresses: addrs.map((a) => a.address.slice(0, a.address.indexOf("/"))) });
  }

  /** Starts the periodic address check (SLAAC addresses appear and expire without a lease event). */
  watchAddresses(): void {
    this.watch ??= setInterval(() => this.checkAddresses(), ADDRESS_WATCH_MS);
    this.watch.unref?.();
  }

  /** Registers what stopAll must end too (the phase's link watch). */
  onStop(fn: () => void): void {
    this.stops.push(fn);
  }

  /** Ends every DHCP client; `release`: DHCPRELEASE and the leases taken off the links (the shutdown). */
  async stopAll(release: boolean): Promise<string[]> {
    for (const f of this.stops.splice(0)) f();
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    const done: string[] = [];
    await Promise.all(
      [...this.dhcp.entries()].map(async ([name, l]) => {
        const had = l.lease?.address;
        try {
          await l.handle.stop(release);
          done.push(had ? `${name} ${had}` : `${name} (no lease)`);
        } catch (e) {
          this.o.log.warn(`dhcp ${name}: stop: ${errText(e)}`);
        }
      }),
    );
    this.dhcp.clear();
    return done.sort();
  }

  // ---- status for the machine API ----

  addresses(): AddressStatus[] {
    const names = linkNames();
    return dumpAddresses()
      .map((a) => this.addressStatus(a, names.get(a.index) ?? `if${a.index}`))
      .sort((a, b) => a.link.localeCompare(b.link) || a.family.localeCompare(b.family));
  }

  private addressStatus(a: KernelAddress, link: string): AddressStatus {
    const address = `${a.family === 4 ? [...a.address].join(".") : formatIpv6(a.address)}/${a.prefix}`;
    const flags = Object.entries(IFA_F)
      .filter(([, bit]) => (a.flags & bit) !== 0)
      .map(([n]) => n.toLowerCase());
    const lease = this.dhcp.get(link)?.lease;
    const origin = this.staticAddrs.get(link)?.has(address) ? "static" : lease && `${lease.address}/${lease.prefix}` === address ? "dhcp" : "kernel";
    return { link, address, family: a.family === 4 ? "inet4" : "inet6", scope: SCOPES[a.scope] ?? String(a.scope), flags, origin };
  }

  routes(): RouteStatus[] {
    const names = linkNames();
    const ip = (f: 4 | 6, b: Uint8Array | undefined) => (b ? (f === 4 ? [...b].join(".") : formatIpv6(b)) : "");
    return dumpRoutes()
      .filter((r) => r.type === 1) // unicast; the kernel's local/broadcast entries live in the local table anyway
      .map((r) => ({
        link: names.get(r.index) ?? (r.index ? `if${r.index}` : ""),
        family: r.family === 4 ? ("inet4" as const) : ("inet6" as const),
        destination: `${r.dst ? ip(r.family, r.dst) : r.family === 4 ? "0.0.0.0" : "::"}/${r.prefix}`,
        gateway: ip(r.family, r.gateway),
        source: ip(r.family, r.source),
        metric: r.metric,
        protocol: PROTOCOLS[r.protocol] ?? String(r.protocol),
        scope: SCOPES[r.scope] ?? String(r.scope),
      }));
  }

  resolverStatus(): ResolverStatus {
    const h = this.currentHostname ?? { name: "", source: "default" };
    return {
      nameservers: this.resolvers.nameservers,
      search: this.resolvers.search,
      source: this.resolvers.source,
      hostname: h.name,
      hostnameSource: h.source,
    };
  }

  leases(): DhcpLeaseStatus[] {
    return [...this.dhcp.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([link, l]) => {
        const x = l.lease;
        const s: DhcpLeaseStatus = {
          link,
          state: l.handle.state(),
          address: x?.address ?? "",
          prefix: x?.prefix ?? 0,
          serverId: x?.serverId ?? "",
          routers: x?.routers ?? [],
          dns: x?.dns ?? [],
          search: l.settings?.search ?? [],
          domainName: x?.domainName ?? "",
          hostname: x?.hostname ?? "",
          mtu: x?.mtu ?? 0,
          leaseSeconds: x?.leaseSeconds ?? 0,
          t1Seconds: x?.t1Seconds ?? 0,
          t2Seconds: x?.t2Seconds ?? 0,
        };
        // The lease's clock is monotonic: its wall time is now minus its age.
        if (x) s.obtainedAt = new Date(Date.now() - (performance.now() - x.obtainedAt));
        return s;
      });
  }
}

const SCOPES: Record<number, string> = { 0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere" };
const PROTOCOLS: Record<number, string> = { 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp" };

/** ifindex -> name, from sysfs. */
function linkNames(): Map<number, string> {
  const out = new Map<number, string>();
  let names: string[] = [];
  try {
    names = readdirSync("/sys/class/net");
  } catch {}
  for (const n of names) {
    try {
      out.set(Number(readFileSync(`/sys/class/net/${n}/ifindex`, "utf8")), n);
    } catch {}
  }
  return out;
}

/** The kernel's text of a CIDR (IPv6 compressed), so config and dump compare equal. */
function normalizeCidr(c: string): string {
  const [addr = "", prefix = ""] = c.split("/");
  const b = addr.includes(":") ? ipv6Bytes(addr) : undefined;
  return `${b ? formatIpv6(b) : addr}/${prefix}`;
}
