// The machine API's view of the network: NetworkRuntime's status once the
// network phase made one; empty before that (the API starts first).
import type { NodeContext } from "../context.ts";
import type { NetworkBackend } from "./contract.ts";

export function networkBackend(ctx: NodeContext): NetworkBackend {
  const rt = () => ctx.network.peek();
  return {
    addresses: () => rt()?.addresses() ?? [],
    routes: () => rt()?.routes() ?? [],
    resolvers: () => rt()?.resolverStatus() ?? { nameservers: [], search: [], source: "none", hostname: "", hostnameSource: "default" },
    dhcpLeases: () => rt()?.leases() ?? [],
  };
}
