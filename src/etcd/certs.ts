// etcd's PKI on a control-plane node, as Talos has it: from cluster.etcd.ca
// each node issues its own peer certificate (peer TLS, both directions), its
// server certificate (client TLS) with its addresses as SANs, and an admin
// client certificate minos itself uses to talk to etcd. ECDSA P-256, as
// Talos's etcd PKI. Reissued whenever the node's addresses change (member.ts).
import { chmodSync, chownSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issueLeafCert, type CertAndKey } from "../api/pki/certs.ts";

/** Where the etcd process finds its certificates (Talos's path). */
export const ETCD_SECRETS_DIR = "/system/secrets/etcd";

export interface EtcdCerts {
  ca: string;
  peer: CertAndKey;
  server: CertAndKey;
  admin: CertAndKey;
}

export function issueEtcdCerts(ca: CertAndKey, hostname: string, ips: string[]): EtcdCerts {
  const dnsNames = [...new Set([hostname, "localhost"].filter(Boolean))];
  const allIps = [...new Set(["127.0.0.1", "::1", ...ips])];
  return {
    ca: ca.cert,
    // Peers dial each other both ways: one certificate serves and authenticates.
    peer: issueLeafCert(ca, { commonName: hostname, serverAuth: true, clientAuth: true, dnsNames, ips: allIps }),
    server: issueLeafCert(ca, { commonName: hostname, serverAuth: true, clientAuth: true, dnsNames, ips: allIps }),
    admin: issueLeafCert(ca, { commonName: "minos", organizations: ["system:masters"], clientAuth: true }),
  };
}

/** The files the etcd process reads (mode 0600, directory 0700). */
export const CERT_FILES = {
  ca: "ca.crt",
  peerCert: "peer.crt",
  peerKey: "peer.key",
  serverCert: "server.crt",
  serverKey: "server.key",
  adminCert: "admin.crt",
  adminKey: "admin.key",
} as const;

/**
 * Writes each file beside itself and renames it into place, given to `owner`
 * first: etcd, which reads them at every handshake, sees the old file or the
 * new one, never a half-written or unreadable one.
 */
export function writeEtcdCerts(certs: EtcdCerts, dir = ETCD_SECRETS_DIR, owner?: { uid: number; gid: number }): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const files: Record<string, string> = {
    [CERT_FILES.ca]: certs.ca,
    [CERT_FILES.peerCert]: certs.peer.cert,
    [CERT_FILES.peerKey]: certs.peer.key,
    [CERT_FILES.serverCert]: certs.server.cert,
    [CERT_FILES.serverKey]: certs.server.key,
    [CERT_FILES.adminCert]: certs.admin.cert,
    [CERT_FILES.adminKey]: certs.admin.key,
  };
  for (const [name, text] of Object.entries(files)) {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    if (owner) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, join(dir, name));
  }
}
