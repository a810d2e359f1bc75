// startDhcp: one DHCPv4 client on one interface, wired to the real link
// (packet + UDP sockets), an RFC 5227 ARP probe and, unless the caller brings
// its own, the netlink applier. The interface must exist and be up; it may
// have no IPv4 address.
import { interfaceIndex } from "../sys/net.ts";
import { hardwareAddress } from "../sys/packet.ts";
import { DhcpClient, type DhcpEvents, type DhcpState, type DhcpTransport, type LeaseApplier, type AddressProbe } from "./client.ts";
import { ArpProbe, RFC5227_TIMING, type ArpProbeTiming } from "./arp.ts";
import { NetlinkApplier, type HostSettings } from "./apply.ts";
import { LinkTransport } from "./transport.ts";
import type { Backoff, Clock } from "./clock.ts";
import type { Lease } from "./lease.ts";

export type { Lease } from "./lease.ts";
export type { DhcpEvents, DhcpState, LeaseApplier, ExpiryReason } from "./client.ts";
export type { HostSettings } from "./apply.ts";
export { hostSettings, NetlinkApplier } from "./apply.ts";

export interface StartDhcpOptions {
  /** Default: NetlinkApplier on the interface (with routeMetric and onHostSettings below). */
  applier?: LeaseApplier;
  routeMetric?: number;
  onHostSettings?: (s: HostSettings, lease: Lease) => void;
  /** RFC 5227 probe of the offered address before use; false: none. Default RFC 5227 timing (≈ 4–6 s). */
  arpProbe?: ArpProbeTiming | false;
  hostname?: string;
  requestedAddress?: string;
  clientId?: Buffer;
  backoff?: Backoff;
  /** Wait after a DECLINE before the next DISCOVER (default 10 s, RFC 2131 §3.1.5). */
  declineWaitMs?: number;
  /** For tests: the RENEWING/REBINDING retransmission floor (default 60 s). */
  renewRetryMinMs?: number;
  clock?: Clock;
  /** Replace the link (tests, or another socket layer). */
  transport?: DhcpTransport;
  probe?: AddressProbe;
}

export interface DhcpHandle {
  /** Ends the client; `release` sends DHCPRELEASE and removes the lease from the interface first. */
  stop(release: boolean): Promise<void>;
  lease(): Lease | undefined;
  state(): DhcpState;
  on<E extends keyof DhcpEvents>(event: E, fn: DhcpEvents[E]): () => void;
}

/** Starts the client at once (DISCOVER goes out now); throws a SysError when the sockets cannot be opened. */
export function startDhcp(ifname: string, opts: StartDhcpOptions = {}): DhcpHandle {
  const ifindex = interfaceIndex(ifname);
  if (ifindex === undefined) throw new Error(`dhcp: no interface ${ifname}`);
  const mac = hardwareAddress(ifname);
  const applier =
    opts.applier ??
    new NetlinkApplier({
      ifname,
      ...(opts.routeMetric !== undefined && { routeMetric: opts.routeMetric }),
      ...(opts.onHostSettings && { onHostSettings: opts.onHostSettings }),
    });
  const transport = opts.transport ?? new LinkTransport({ ifname, ifindex });
  const timing = opts.arpProbe === undefined ? RFC5227_TIMING : opts.arpProbe;
  const probe = opts.probe ?? (timing ? new ArpProbe(ifindex, mac, timing) : undefined);
  const client = new DhcpClient({
    mac,
    transport,
    applier,
    ...(probe && { probe }),
    ...(opts.clock && { clock: opts.clock }),
    ...(opts.backoff && { backoff: opts.backoff }),
    ...(opts.renewRetryMinMs !== undefined && { renewRetryMinMs: opts.renewRetryMinMs }),
    ...(opts.declineWaitMs !== undefined && { declineWaitMs: opts.declineWaitMs }),
    ...(opts.hostname && { hostname: opts.hostname }),
    ...(opts.requestedAddress && { requestedAddress: opts.requestedAddress }),
    ...(opts.clientId && { clientId: opts.clientId }),
  });
  client.start();
  return {
    stop: (release) => client.stop(release),
    lease: () => client.lease(),
    state: () => client.state(),
    on: (event, fn) => client.on(event, fn),
  };
}
