// minos.machine.MinosService's network calls: Addresses, Routes, Resolvers,
// DhcpLeases. Talos serves the same facts as COSI resources (network
// AddressStatus, RouteStatus, ResolverStatus, HostnameStatus); the messages
// use those resources' field names (link_name, out_link_name, dns_servers).
import type { MachineBackend, NetworkBackend } from "../../init/backend/contract.ts";
import { FailedPreconditionError } from "../../lib/errors.ts";
import { meta, type ServiceImpl } from "../handler.ts";
import { toTimestamp } from "../schema.ts";

type NetworkCalls = Pick<ServiceImpl<"minos.machine.MinosService">, "Addresses" | "Routes" | "Resolvers" | "DhcpLeases">;

export function networkHandlers(backend: MachineBackend): NetworkCalls {
  const net = (): NetworkBackend => {
    if (!backend.network) throw new FailedPreconditionError("this node reports no network state");
    return backend.network;
  };
  return {
    async Addresses(_req, ctx) {
      const addresses = net()
        .addresses()
        .map((a) => ({ link_name: a.link, address: a.address, family: a.family, scope: a.scope, flags: a.flags, origin: a.origin }));
      return { messages: [{ metadata: meta(ctx), addresses }] };
    },
    async Routes(_req, ctx) {
      const routes = net()
        .routes()
        .map((r) => ({
          out_link_name: r.link,
          family: r.family,
          destination: r.destination,
          gateway: r.gateway,
          source: r.source,
          priority: r.metric,
          protocol: r.protocol,
          scope: r.scope,
        }));
      return { messages: [{ metadata: meta(ctx), routes }] };
    },
    async Resolvers(_req, ctx) {
      const r = net().resolvers();
      return {
        messages: [
          {
            metadata: meta(ctx),
            dns_servers: r.nameservers,
            search_domains: r.search,
            source: r.source,
            hostname: r.hostname,
            hostname_source: r.hostnameSource,
          },
        ],
      };
    },
    async DhcpLeases(_req, ctx) {
      const leases = net()
        .dhcpLeases()
        .map((l) => ({
          link_name: l.link,
          state: l.state,
          address: l.address,
          prefix: l.prefix,
          server_id: l.serverId,
          routers: l.routers,
          dns_servers: l.dns,
          search_domains: l.search,
          domain_name: l.domainName,
          hostname: l.hostname,
          mtu: l.mtu,
          lease_seconds: l.leaseSeconds,
          t1_seconds: l.t1Seconds,
          t2_seconds: l.t2Seconds,
          ...(l.obtainedAt ? { obtained_at: toTimestamp(l.obtainedAt) } : {}),
        }));
      return { messages: [{ metadata: meta(ctx), leases }] };
    },
  };
}
