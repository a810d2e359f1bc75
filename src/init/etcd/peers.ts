// How a joining control-plane node finds the etcd cluster, from what a Talos
// config already holds (Talos uses Kubernetes endpoints or its discovery
// service; neither exists here): every address the host of
// cluster.controlPlane.endpoint resolves to (one control plane, a DNS name
// listing all of them, or a VIP) is asked, on its machine API (TCP 50000,
// mutual TLS with a certificate this node issues itself from machine.ca),
// for its etcd members; their client URLs are where the node then adds
// itself, authenticated with the etcd CA. The node's own addresses are skipped.
import { ipVersion } from "../../lib/ip.ts";
import { MachineClient } from "../../api/client.ts";
import { issueClientCert, type CertAndKey } from "../../api/pki/certs.ts";
import { Transport } from "../../api/transport.ts";
import { API_TCP_PORT } from "../../node/paths.ts";

export interface PeerLookup {
  /** cluster.controlPlane.endpoint (https://host:6443). */
  endpoint: string | undefined;
  /** machine.ca with its key (control-plane nodes have it). */
  machineCa: CertAndKey;
  ownAddresses(): string[];
}

async function hostsOf(endpoint: string): Promise<string[]> {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, "");
  if (ipVersion(host)) return [host];
  // Bun.dns rather than node:dns: see systemResolver in src/time/servers.ts.
  return (await Bun.dns.lookup(host, { family: 4 })).map((a) => a.address);
}

export function memberFinder(p: PeerLookup): (signal: AbortSignal) => Promise<{ clientURLs: string[] } | { reason: string }> {
  let cert: CertAndKey | undefined;
  return async (signal) => {
    if (!p.endpoint) return { reason: "no cluster.controlPlane.endpoint to find the other control-plane nodes by" };
    let hosts: string[];
    try {
      hosts = await hostsOf(p.endpoint);
    } catch (e) {
      return { reason: `cluster.controlPlane.endpoint ${p.endpoint}: ${(e as Error).message}` };
    }
    const own = new Set(p.ownAddresses());
    const others = hosts.filter((h) => !own.has(h));
    if (others.length === 0) return { reason: `cluster.controlPlane.endpoint ${p.endpoint} names only this node` };
    cert ??= issueClientCert(p.machineCa, "os:reader", "etcd-join");
    const tls = { ca: p.machineCa.cert, cert: cert.cert, key: cert.key };
    const problems: string[] = [];
    for (const host of others) {
      if (signal.aborted) break;
      const transport = new Transport({ kind: "tcp", host, port: API_TCP_PORT }, tls);
      try {
        const r = await new MachineClient(transport, 5000).call("machine.MachineService", "EtcdMemberList", {});
        const urls = r.messages.flatMap((m) => m.members.flatMap((x) => x.client_urls));
        if (urls.length > 0) return { clientURLs: [...new Set(urls)] };
        problems.push(`${host}: no members`);
      } catch (e) {
        problems.push(`${host}: ${(e as Error).message}`);
      } finally {
        transport.close();
      }
    }
    return { reason: problems.join("; ") };
  };
}
