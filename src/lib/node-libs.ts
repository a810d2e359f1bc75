// Bun's node:http2, node:net, node:tls, node:crypto and node:os, loaded on
// first use. PID 1 serves its API and talks to containerd on our own HTTP/2
// (src/api/h2) over Bun's native sockets, and needs these modules only as a
// client of other nodes (forwarding, etcd peers, etcd itself) and of
// registries over TLS, and for certificates. A node that does none of that
// never loads them; a static import anywhere in PID 1's graph would load them
// at start. What they cost there: a bare compiled Bun program serving one call
// with node:http2 on a unix socket is 35.0 MiB, with Bun.listen 26.7 (node:net
// alone 30.4). node:crypto is for certificates and keys (a node with a CA;
// maintenance mode): random bytes, UUIDs and SHA-256 come from Web Crypto and
// Bun.CryptoHasher, which a bare program loads for +1.2 MiB where node:crypto
// costs +6.5.
import type * as Crypto from "node:crypto";
import type * as Http2 from "node:http2";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Tls from "node:tls";

let http2: typeof Http2 | undefined;
let net: typeof Net | undefined;
let tls: typeof Tls | undefined;
let nodeCrypto: typeof Crypto | undefined;
let os: typeof Os | undefined;

// Synchronous requires: the bundler keeps the modules in the executable but evaluates them only here.
export function http2Lib(): typeof Http2 {
  http2 ??= require("node:http2") as typeof Http2;
  return http2;
}

export function netLib(): typeof Net {
  net ??= require("node:net") as typeof Net;
  return net;
}

export function tlsLib(): typeof Tls {
  tls ??= require("node:tls") as typeof Tls;
  return tls;
}

export function cryptoLib(): typeof Crypto {
  nodeCrypto ??= require("node:crypto") as typeof Crypto;
  return nodeCrypto;
}

/** node:os for networkInterfaces() (certificate SANs, etcd peers); uname comes from src/sys/process.ts. */
export function osLib(): typeof Os {
  os ??= require("node:os") as typeof Os;
  return os;
}

/** Which of them this process has loaded (tests: a default boot loads none). */
export function nodeLibsLoaded(): string[] {
  const out: string[] = [];
  if (http2) out.push("node:http2");
  if (net) out.push("node:net");
  if (tls) out.push("node:tls");
  if (nodeCrypto) out.push("node:crypto");
  if (os) out.push("node:os");
  return out;
}
