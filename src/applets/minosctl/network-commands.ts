// minosctl's network commands: addresses, routes, resolvers, leases (the
// minos extension calls Talos serves as COSI resources; `talosctl get
// addresses` / `get routes` / `get resolvers` show the same facts).
import { structured, table } from "./format.ts";
import { fromTimestamp } from "../../api/schema.ts";
import type { Command, CommandContext } from "./cli.ts";

function show(ctx: CommandContext, value: unknown, human: () => string): number {
  ctx.io.stdout(ctx.output === "table" ? human() : structured(value, ctx.output));
  return 0;
}

export const NETWORK_COMMANDS: Command[] = [
  {
    name: "addresses",
    summary: "the node's addresses (both families), per link",
    async run(ctx) {
      const a = await ctx.client().addresses();
      const host = a.metadata?.hostname ?? "";
      return show(ctx, a, () =>
        table(
          ["NODE", "LINK", "ADDRESS", "FAMILY", "SCOPE", "ORIGIN", "FLAGS"],
          a.addresses.map((x) => [host, x.link_name, x.address, x.family, x.scope, x.origin, x.flags.join(",")]),
        ),
      );
    },
  },
  {
    name: "routes",
    summary: "the main routing table (both families)",
    async run(ctx) {
      const r = await ctx.client().routes();
      const host = r.metadata?.hostname ?? "";
      return show(ctx, r, () =>
        table(
          ["NODE", "DESTINATION", "GATEWAY", "LINK", "METRIC", "PROTOCOL", "SCOPE"],
          r.routes.map((x) => [host, x.destination, x.gateway, x.out_link_name, x.priority, x.protocol, x.scope]),
        ),
      );
    },
  },
  {
    name: "resolvers",
    summary: "DNS servers, search domains and the hostname, with their sources",
    async run(ctx) {
      const r = await ctx.client().resolvers();
      return show(ctx, r, () =>
        table(
          ["NODE", "HOSTNAME", "FROM", "NAMESERVERS", "FROM", "SEARCH"],
          [[r.metadata?.hostname ?? "", r.hostname, r.hostname_source, r.dns_servers.join(" "), r.source, r.search_domains.join(" ")]],
        ),
      );
    },
  },
  {
    name: "leases",
    summary: "the DHCPv4 lease of each DHCP link",
    async run(ctx) {
      const l = await ctx.client().dhcpLeases();
      const host = l.metadata?.hostname ?? "";
      return show(ctx, l, () =>
        table(
          ["NODE", "LINK", "STATE", "ADDRESS", "SERVER", "ROUTERS", "DNS", "LEASE", "OBTAINED"],
          l.leases.map((x) => [
            host,
            x.link_name,
            x.state,
            x.address ? `${x.address}/${x.prefix}` : "",
            x.server_id,
            x.routers.join(" "),
            x.dns_servers.join(" "),
            x.lease_seconds ? `${x.lease_seconds}s` : "",
            fromTimestamp(x.obtained_at)?.toISOString() ?? "",
          ]),
        ),
      );
    },
  },
];
