// `minosctl gen secrets` and `minosctl gen config NAME https://ENDPOINT:6443`:
// a secrets bundle and controlplane.yaml / worker.yaml / talosconfig shaped
// as Talos 1.7's `talosctl gen config` writes them (its
// pkg/machinery/config/generate: same keys, same defaults, same secret
// formats), so a Talos user's habits and tools carry over.
//
// Secrets, as Talos makes them: the machine (OS API) CA is Ed25519; the etcd,
// Kubernetes and aggregator CAs and the service account key are ECDSA P-256;
// tokens are `[a-z0-9]{6}.[a-z0-9]{16}`; the cluster id and secret and the
// secretbox key are 32 random bytes, base64.
import { randomBytes, randomInt } from "node:crypto";
import { yamlLib } from "../../config/yaml-lib.ts";
import { generateCa, generateKey, issueClientCert, type CertAndKey } from "../../api/pki/certs.ts";
import { applyPatches, type ConfigPatch } from "../../config/patch.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Talos's secrets.yaml (`talosctl gen secrets`): certificates and keys as base64 PEM. */
export interface SecretsBundle {
  cluster: { id: string; secret: string };
  secrets: { bootstraptoken: string; secretboxencryptionsecret: string };
  trustdinfo: { token: string };
  certs: {
    etcd: { crt: string; key: string };
    k8s: { crt: string; key: string };
    k8saggregator: { crt: string; key: string };
    k8sserviceaccount: { key: string };
    os: { crt: string; key: string };
  };
}

/** Kubernetes bootstrap-token characters, as Talos draws them. */
function tokenPart(n: number): string {
  const chars = "0123456789abcdefghijklmnopqrstuvwxyz";
  let s = "";
  for (let i = 0; i < n; i++) s += chars[randomInt(chars.length)];
  return s;
}

export const newToken = (): string => `${tokenPart(6)}.${tokenPart(16)}`;

const encoded = (c: CertAndKey) => ({ crt: b64(c.cert), key: b64(c.key) });

export function generateSecrets(): SecretsBundle {
  const random32 = () => randomBytes(32).toString("base64");
  return {
    cluster: { id: random32(), secret: random32() },
    secrets: { bootstraptoken: newToken(), secretboxencryptionsecret: random32() },
    trustdinfo: { token: newToken() },
    certs: {
      etcd: encoded(generateCa("etcd", 3650, { algorithm: "ecdsa-p256", organizations: ["etcd"] })),
      k8s: encoded(generateCa("kubernetes", 3650, { algorithm: "ecdsa-p256", organizations: ["kubernetes"] })),
      k8saggregator: encoded(generateCa("", 3650, { algorithm: "ecdsa-p256", organizations: [] })),
      k8sserviceaccount: { key: b64(generateKey("ecdsa-p256")) },
      os: encoded(generateCa("talos", 3650, { organizations: ["talos"] })),
    },
  };
}

/** Talos 1.7's defaults that gen config writes into every config. */
export const GEN_DEFAULTS = {
  kubernetesVersion: "1.30.3",
  talosVersion: "v1.7.6",
  installDisk: "/dev/sda",
  dnsDomain: "cluster.local",
  podSubnet: "10.244.0.0/16",
  serviceSubnet: "10.96.0.0/12",
} as const;

export interface GenOptions {
  clusterName: string;
  /** https://host:port of the Kubernetes API. */
  endpoint: string;
  secrets: SecretsBundle;
  kubernetesVersion?: string;
  installDisk?: string;
  installImage?: string;
  /** Extra names for the API server's and the machine's certificates. */
  additionalSans?: string[];
  /** Patches for both configs, then for one type only (talosctl's --config-patch[-control-plane|-worker]). */
  patches?: ConfigPatch[];
  controlPlanePatches?: ConfigPatch[];
  workerPatches?: ConfigPatch[];
}

type MachineType = "controlplane" | "worker";

function endpointHost(endpoint: string): string {
  const u = new URL(endpoint);
  return u.hostname.replace(/^\[|\]$/g, "");
}

/** The v1alpha1 document of one machine type, as a plain object. */
export function machineConfig(type: MachineType, o: GenOptions): Record<string, unknown> {
  const k8s = o.kubernetesVersion ?? GEN_DEFAULTS.kubernetesVersion;
  const s = o.secrets;
  const cp = type === "controlplane";
  const sans = [...new Set([endpointHost(o.endpoint), ...(o.additionalSans ?? [])])];
  return {
    version: "v1alpha1",
    debug: false,
    persist: true,
    machine: {
      type,
      token: s.trustdinfo.token,
      // Only control planes hold CA keys; workers get the certificates alone.
      ca: { crt: s.certs.os.crt, key: cp ? s.certs.os.key : "" },
      certSANs: o.additionalSans ?? [],
      kubelet: {
        image: `ghcr.io/siderolabs/kubelet:v${k8s}`,
        defaultRuntimeSeccompProfileEnabled: true,
        disableManifestsDirectory: true,
      },
      network: {},
      install: {
        disk: o.installDisk ?? GEN_DEFAULTS.installDisk,
        image: o.installImage ?? `ghcr.io/siderolabs/installer:${GEN_DEFAULTS.talosVersion}`,
        wipe: false,
      },
      features: {
        rbac: true,
        stableHostname: true,
        apidCheckExtKeyUsage: true,
        diskQuotaSupport: true,
        kubePrism: { enabled: true, port: 7445 },
        hostDNS: { enabled: true },
      },
    },
    cluster: {
      id: s.cluster.id,
      secret: s.cluster.secret,
      controlPlane: { endpoint: o.endpoint },
      ...(cp ? { clusterName: o.clusterName } : {}),
      network: { dnsDomain: GEN_DEFAULTS.dnsDomain, podSubnets: [GEN_DEFAULTS.podSubnet], serviceSubnets: [GEN_DEFAULTS.serviceSubnet] },
      token: s.secrets.bootstraptoken,
      ...(cp ? { secretboxEncryptionSecret: s.secrets.secretboxencryptionsecret } : {}),
      ca: { crt: s.certs.k8s.crt, key: cp ? s.certs.k8s.key : "" },
      ...(cp
        ? {
            aggregatorCA: s.certs.k8saggregator,
            serviceAccount: s.certs.k8sserviceaccount,
            apiServer: {
              image: `registry.k8s.io/kube-apiserver:v${k8s}`,
              certSANs: sans,
              disablePodSecurityPolicy: true,
              admissionControl: [
                {
                  name: "PodSecurity",
                  configuration: {
                    apiVersion: "pod-security.admission.config.k8s.io/v1alpha1",
                    defaults: {
                      audit: "restricted",
                      "audit-version": "latest",
                      enforce: "baseline",
                      "enforce-version": "latest",
                      warn: "restricted",
                      "warn-version": "latest",
                    },
                    exemptions: { namespaces: ["kube-system"], runtimeClasses: [], usernames: [] },
                    kind: "PodSecurityConfiguration",
                  },
                },
              ],
              auditPolicy: { apiVersion: "audit.k8s.io/v1", kind: "Policy", rules: [{ level: "Metadata" }] },
            },
            controllerManager: { image: `registry.k8s.io/kube-controller-manager:v${k8s}` },
            proxy: { image: `registry.k8s.io/kube-proxy:v${k8s}` },
            scheduler: { image: `registry.k8s.io/kube-scheduler:v${k8s}` },
          }
        : {}),
      discovery: { enabled: true, registries: { kubernetes: { disabled: true }, service: {} } },
      ...(cp ? { etcd: { ca: s.certs.etcd }, extraManifests: [], inlineManifests: [] } : {}),
    },
  };
}

/** A talosconfig with an os:admin client certificate from the bundle's machine CA. */
export function clientConfig(o: GenOptions, endpoints: string[]): Record<string, unknown> {
  const ca: CertAndKey = { cert: Buffer.from(o.secrets.certs.os.crt, "base64").toString(), key: Buffer.from(o.secrets.certs.os.key, "base64").toString() };
  const admin = issueClientCert(ca, "os:admin", "admin");
  return {
    context: o.clusterName,
    contexts: { [o.clusterName]: { endpoints, ca: o.secrets.certs.os.crt, crt: b64(admin.cert), key: b64(admin.key) } },
  };
}

const yaml = (v: unknown) => yamlLib().stringify(v, { lineWidth: 0 });

/** controlplane.yaml, worker.yaml and talosconfig, patches applied (each result is still to be validated by the caller). */
export function generateConfigs(o: GenOptions, endpoints: string[]): { controlplane: string; worker: string; talosconfig: string } {
  const render = (type: MachineType, typed: ConfigPatch[] = []) => {
    const base = yaml(machineConfig(type, o));
    const patches = [...(o.patches ?? []), ...typed];
    return patches.length ? applyPatches(base, patches) : base;
  };
  return {
    controlplane: render("controlplane", o.controlPlanePatches),
    worker: render("worker", o.workerPatches),
    talosconfig: yaml(clientConfig(o, endpoints)),
  };
}

export function secretsYaml(s: SecretsBundle): string {
  return yaml(s);
}
