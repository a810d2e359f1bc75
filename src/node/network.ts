// The node's network as the machine API reports it (minos.machine.MinosService
// Addresses, Routes, Resolvers, DhcpLeases): the kernel's addresses and routes
// (netlink dumps), the resolvers init wrote, and each link's DHCP lease.

export interface AddressStatus {
  link: string;
  /** CIDR: 10.0.2.15/24, 2001:db8::15/64. */
  address: string;
  family: "inet4" | "inet6";
  /** host, link, global (the kernel's scope). */
  scope: string;
  /** permanent, tentative, deprecated, dadfailed, temporary. */
  flags: string[];
  /** Who put it there: static (config), dhcp, or kernel (SLAAC, link-local, lo). */
  origin: "static" | "dhcp" | "kernel";
}

export interface RouteStatus {
  link: string;
  family: "inet4" | "inet6";
  /** CIDR; 0.0.0.0/0 or ::/0 for the default route. */
  destination: string;
  gateway: string;
  source: string;
  metric: number;
  /** kernel, boot, static, ra, dhcp or the number. */
  protocol: string;
  scope: string;
}

export interface ResolverStatus {
  nameservers: string[];
  search: string[];
  /** Where the nameservers came from: config, dhcp, none. */
  source: string;
  hostname: string;
  /** config, dhcp, default. */
  hostnameSource: string;
}

export interface DhcpLeaseStatus {
  link: string;
  /** The client's state: selecting, bound, renewing, ... */
  state: string;
  address: string;
  prefix: number;
  serverId: string;
  routers: string[];
  dns: string[];
  search: string[];
  domainName: string;
  hostname: string;
  mtu: number;
  leaseSeconds: number;
  t1Seconds: number;
  t2Seconds: number;
  /** When the lease was obtained (its times count from then); undefined while none is held. */
  obtainedAt?: Date;
}
