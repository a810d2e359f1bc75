// The node's PKI, as Talos has it: an Ed25519 CA (machine.ca in the machine
// config), a serving certificate init issues itself at start, and client
// certificates whose Organization is the caller's role (os:admin, ...).
// Written on node:crypto (keys, signatures) plus a small DER writer: X.509
// generation is the one thing node:crypto lacks, and the libraries that add
// it pull in a dozen packages and a reflect-metadata polyfill.
import type { KeyObject } from "node:crypto";
import { cryptoLib } from "../../lib/node-libs.ts";
import * as der from "./der.ts";

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface CertAndKey {
  cert: string;
  key: string;
}

const OID = {
  ed25519: "1.3.101.112",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

const DAY_MS = 86_400_000;

function pem(label: string, body: Uint8Array): string {
  const b64 = Buffer.from(body).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function name(commonName: string, organizations: string[]): Buffer {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.utf8String(value)));
  return der.sequence(...organizations.map((o) => rdn(OID.organization, o)), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ format: "der", type: "spki" });
  // The key is the SPKI's tail: 32 bytes for Ed25519, a 65-byte uncompressed point for P-256.
  return cryptoLib()
    .createHash("sha1")
    .update(spki.subarray(spki.length - (publicKey.asymmetricKeyType === "ec" ? 65 : 32)))
    .digest();
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(":")) {
    const [head, tail] = ip.split("::") as [string, string | undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  return Buffer.from(ip.split(".").map(Number));
}

interface IssueOptions {
  commonName: string;
  organizations?: string[];
  isCa?: boolean;
  serverAuth?: boolean;
  clientAuth?: boolean;
  dnsNames?: string[];
  ips?: string[];
  days: number;
}

function build(opts: IssueOptions, publicKey: KeyObject, issuer: { name: Buffer; key: KeyObject; keyId: Buffer } | undefined): string {
  const subject = name(opts.commonName, opts.organizations ?? []);
  const now = Date.now();
  const exts: Buffer[] = [
    extension(OID.basicConstraints, true, opts.isCa ? der.sequence(der.boolean(true)) : der.sequence()),
    // digitalSignature(0), keyCertSign(5), cRLSign(6)
    extension(OID.keyUsage, true, der.namedBits(opts.isCa ? [0, 5, 6] : [0])),
    extension(OID.subjectKeyId, false, der.octetString(keyId(publicKey))),
  ];
  const eku = [...(opts.serverAuth ? [OID.serverAuth] : []), ...(opts.clientAuth ? [OID.clientAuth] : [])];
  if (eku.length) exts.push(extension(OID.extKeyUsage, false, der.sequence(...eku.map(der.oid))));
  const sans = [...(opts.dnsNames ?? []).map((d) => der.implicit(2, Buffer.from(d, "ascii"))), ...(opts.ips ?? []).map((ip) => der.implicit(7, ipBytes(ip)))];
  if (sans.length) exts.push(extension(OID.subjectAltName, false, der.sequence(...sans)));
  if (issuer) exts.push(extension(OID.authorityKeyId, false, der.sequence(der.implicit(0, issuer.keyId))));

  const signingKey = issuer ? issuer.key : undefined;
  if (!signingKey) throw new Error("no signing key");
  const ec = signingKey.asymmetricKeyType === "ec";
  const algorithm = der.sequence(der.oid(ec ? OID.ecdsaWithSha256 : OID.ed25519));
  const serial = cryptoLib().randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    algorithm,
    issuer ? issuer.name : subject,
    der.sequence(der.time(new Date(now - 5 * 60_000)), der.time(new Date(now + opts.days * DAY_MS))), // 5 min of clock skew
    subject,
    publicKey.export({ format: "der", type: "spki" }),
    der.explicit(3, der.sequence(...exts)),
  );
  const signature = cryptoLib().sign(ec ? "sha256" : null, tbs, signingKey);
  return pem("CERTIFICATE", der.sequence(tbs, algorithm, der.bitString(signature)));
}

/** Ed25519 (the node CA and its certificates) or ECDSA P-256 (Talos's Kubernetes and etcd CAs). */
export type KeyAlgorithm = "ed25519" | "ecdsa-p256";

function newKey(algorithm: KeyAlgorithm = "ed25519"): { publicKey: KeyObject; privateKey: KeyObject; pem: string } {
  if (algorithm === "ecdsa-p256") {
    const { publicKey, privateKey } = cryptoLib().generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    // SEC1 ("EC PRIVATE KEY"), as Talos writes its ECDSA keys.
    return { publicKey, privateKey, pem: privateKey.export({ format: "pem", type: "sec1" }).toString() };
  }
  const { publicKey, privateKey } = cryptoLib().generateKeyPairSync("ed25519");
  return { publicKey, privateKey, pem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}

/** A new private key alone (PEM), e.g. a Kubernetes service account key. */
export function generateKey(algorithm: KeyAlgorithm): string {
  return newKey(algorithm).pem;
}

/** A new self-signed node CA (10 years, like Talos's). */
export function generateCa(commonName = "minos", days = 3650, opts: { algorithm?: KeyAlgorithm; organizations?: string[] } = {}): CertAndKey {
  const k = newKey(opts.algorithm);
  const organizations = opts.organizations ?? ["minos"];
  const self = { name: name(commonName, organizations), key: k.privateKey, keyId: keyId(k.publicKey) };
  return { cert: build({ commonName, organizations, isCa: true, days }, k.publicKey, self), key: k.pem };
}

function issuerOf(ca: CertAndKey): { name: Buffer; key: KeyObject; keyId: Buffer } {
  const cert = new (cryptoLib().X509Certificate)(ca.cert);
  // The issuer Name must match the CA's subject byte for byte: take it from the CA's DER.
  return { name: subjectDer(cert.raw), key: cryptoLib().createPrivateKey(ca.key), keyId: keyId(cryptoLib().createPublicKey(ca.key)) };
}

/** The subject Name's DER inside a certificate (TBSCertificate field 6, after the optional version). */
function subjectDer(certDer: Buffer): Buffer {
  const children = (buf: Buffer, start: number, end: number): Array<{ start: number; end: number; tag: number; content: number }> => {
    const out = [];
    let i = start;
    while (i < end) {
      const tag = buf[i]!;
      let len = buf[i + 1]!;
      let hdr = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let j = 0; j < n; j++) len = len * 256 + buf[i + 2 + j]!;
        hdr += n;
      }
      out.push({ start: i, end: i + hdr + len, tag, content: i + hdr });
      i += hdr + len;
    }
    return out;
  };
  const [cert] = children(certDer, 0, certDer.length);
  const [tbs] = children(certDer, cert!.content, cert!.end);
  const fields = children(certDer, tbs!.content, tbs!.end);
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4]!;
  return certDer.subarray(subject.start, subject.end);
}

/** A client certificate for a role (its Organization), signed by the CA (1 year, like Talos's). */
export function issueClientCert(ca: CertAndKey, role: string, commonName = role, days = 365): CertAndKey {
  const k = newKey();
  return { cert: build({ commonName, organizations: [role], clientAuth: true, days }, k.publicKey, issuerOf(ca)), key: k.pem };
}

/** The node's serving certificate: names clients may dial it by. */
export function issueServerCert(ca: CertAndKey, dnsNames: string[], ips: string[], days = 365): CertAndKey {
  const k = newKey();
  return {
    cert: build({ commonName: dnsNames[0] ?? "minos", serverAuth: true, clientAuth: false, dnsNames, ips, days }, k.publicKey, issuerOf(ca)),
    key: k.pem,
  };
}

/** What a leaf certificate is for: its names, its uses, its key type. */
export interface LeafOptions {
  commonName: string;
  organizations?: string[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  dnsNames?: string[];
  ips?: string[];
  days?: number;
  algorithm?: KeyAlgorithm;
}

/** A leaf certificate signed by `ca` (the etcd peer, server and client certificates: ECDSA P-256 as Talos's). */
export function issueLeafCert(ca: CertAndKey, o: LeafOptions): CertAndKey {
  const k = newKey(o.algorithm ?? "ecdsa-p256");
  const opts: IssueOptions = { ...o, days: o.days ?? 365 };
  return { cert: build(opts, k.publicKey, issuerOf(ca)), key: k.pem };
}
