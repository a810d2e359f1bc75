// The etcd service as data: the flags, environment, data directory, network
// mode and mounts of one etcd member, built from the machine config and the
// node's addresses. init runs it as Talos 1.7 does (src/init/etcd/service.ts):
// a container of cluster.etcd.image running /usr/local/bin/etcd with these
// args, host network, the data directory read-write and the PKI directory
// read-only, as the etcd user (uid 60) with every capability dropped.
import { CERT_FILES, ETCD_SECRETS_DIR } from "./certs.ts";
import { CLIENT_PORT, PEER_PORT, url, type EtcdAddresses } from "./addresses.ts";
import { join } from "node:path";

/** Talos 1.7's default etcd image. */
export const DEFAULT_ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.5.13";
/** Data on the node (EPHEMERAL's /var once the disk layout mounts it). */
export const ETCD_DATA_DIR = "/var/lib/etcd";
/** Where etcd is in the image (the upstream image's path, and Talos's ProcessArgs[0]). */
export const ETCD_BINARY_IN_IMAGE = "/usr/local/bin/etcd";
/** etcdctl in the same image (the snapshot restore step). */
export const ETCDCTL_IN_IMAGE = "/usr/local/bin/etcdctl";
/** Talos's constants.EtcdUserID: etcd runs as this uid:gid; its data and PKI directories belong to it. */
export const ETCD_USER_ID = 60;
/** Talos's ETCD_CIPHER_SUITES: TLS 1.2 suites with forward secrecy and AEAD only. */
export const ETCD_CIPHER_SUITES = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
].join(",");

export interface EtcdRunSpec {
  /** cluster.etcd.image: what the container runner runs. */
  image: string;
  /** etcd's flags (the container's argv is ETCD_BINARY_IN_IMAGE, then these). */
  args: string[];
  env: Record<string, string>;
  dataDir: string;
  /** etcd shares the node's network namespace (peer 2380, client 2379 on the node's addresses). */
  hostNetwork: true;
  /** The data directory read-write and the PKI directory read-only (Talos's two bind mounts). */
  mounts: Array<{ source: string; destination: string; readonly: boolean }>;
}

export interface EtcdSpecInput {
  /** The member name: the node's hostname, as Talos. */
  name: string;
  addresses: EtcdAddresses;
  /** name=peerURL pairs, this member included. */
  initialCluster: Array<{ name: string; peerURL: string }>;
  state: "new" | "existing";
  image: string;
  /** cluster.etcd.extraArgs: override the defaults flag by flag (as Talos, without the leading dashes). */
  extraArgs: Record<string, string>;
  secretsDir?: string;
  dataDir?: string;
}

/**
 * Flags cluster.etcd.extraArgs may not set: the ones Talos's argsbuilder
 * deny-lists (identity, data, listeners, TLS), which minos sets itself.
 * initial-cluster(-state) and the advertised URLs stay overridable, as in Talos.
 */
export const DENIED_EXTRA_ARGS = [
  "name",
  "auto-tls",
  "peer-auto-tls",
  "data-dir",
  "listen-peer-urls",
  "listen-client-urls",
  "client-cert-auth",
  "cert-file",
  "key-file",
  "trusted-ca-file",
  "peer-client-cert-auth",
  "peer-cert-file",
  "peer-key-file",
  "peer-trusted-ca-file",
  "experimental-initial-corrupt-check",
];

/** The extraArgs keys (leading dashes stripped) Talos would refuse. */
export function deniedExtraArgs(extraArgs: Record<string, string>): string[] {
  return Object.keys(extraArgs)
    .map((k) => k.replace(/^-+/, ""))
    .filter((k) => DENIED_EXTRA_ARGS.includes(k));
}

export function peerUrlOf(addresses: EtcdAddresses): string {
  return url(addresses.advertised[0]!, PEER_PORT);
}

export function clientUrlsOf(addresses: EtcdAddresses): string[] {
  return addresses.advertised.map((ip) => url(ip, CLIENT_PORT));
}

export function etcdRunSpec(i: EtcdSpecInput): EtcdRunSpec {
  const secrets = i.secretsDir ?? ETCD_SECRETS_DIR;
  const dataDir = i.dataDir ?? ETCD_DATA_DIR;
  const f = (name: string) => join(secrets, name);
  const listenClient = [
    ...new Set([...i.addresses.listen.map((ip) => url(ip, CLIENT_PORT)), ...(i.addresses.listen.includes("0.0.0.0") ? [] : [url("127.0.0.1", CLIENT_PORT)])]),
  ];
  const flags: Record<string, string> = {
    name: i.name,
    "data-dir": dataDir,
    "listen-peer-urls": i.addresses.listen.map((ip) => url(ip, PEER_PORT)).join(","),
    "listen-client-urls": listenClient.join(","),
    "initial-advertise-peer-urls": peerUrlOf(i.addresses),
    "advertise-client-urls": clientUrlsOf(i.addresses).join(","),
    "initial-cluster": i.initialCluster.map((m) => `${m.name}=${m.peerURL}`).join(","),
    "initial-cluster-state": i.state,
    "auto-tls": "false",
    "peer-auto-tls": "false",
    "client-cert-auth": "true",
    "peer-client-cert-auth": "true",
    "trusted-ca-file": f(CERT_FILES.ca),
    "cert-file": f(CERT_FILES.serverCert),
    "key-file": f(CERT_FILES.serverKey),
    "peer-trusted-ca-file": f(CERT_FILES.ca),
    "peer-cert-file": f(CERT_FILES.peerCert),
    "peer-key-file": f(CERT_FILES.peerKey),
    "experimental-initial-corrupt-check": "true",
  };
  for (const [k, v] of Object.entries(i.extraArgs)) flags[k.replace(/^-+/, "")] = v;
  return {
    image: i.image,
    args: Object.entries(flags).map(([k, v]) => `--${k}=${v}`),
    env: { ETCD_CIPHER_SUITES },
    dataDir,
    hostNetwork: true,
    mounts: [
      { source: dataDir, destination: dataDir, readonly: false },
      { source: secrets, destination: secrets, readonly: true },
    ],
  };
}
