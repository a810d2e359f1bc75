// The Talos v1alpha1 machine-config document (the one without `kind`), key for
// key as Talos 1.7 defines it (reference: siderolabs/talos tag v1.7.7,
// pkg/machinery/config/types/v1alpha1/v1alpha1_types.go), plus minos's own
// `minos:` section. Our own definitions, written from that file's YAML tags.
//
// Each key is `applied` (minos implements it: exactly the keys, defaults and
// checks init had before this schema existed) or `accepted` (type-checked with
// Talos's type and stored, not applied; parsing warns when one is present).
// Durations are Go duration strings, certificates base64 PEM pairs {crt, key}.
// Two keys newer than 1.7 (machine.network.searchDomains, machine.nodeAnnotations,
// Talos 1.8) are accepted too and noted so in docs/config-keys.md.

import { checkCidr46, checkIp46, checkNetwork46, familyOf } from "../lib/ipv6.ts";
import {
  absolutePath,
  base64,
  base64Pem,
  base64PemOrEmpty,
  goDuration,
  hostname,
  humanSize,
  interfaceName,
  logEndpoint,
  serviceId,
  sizeCondition,
  url,
} from "./checks.ts";
import {
  accepted,
  acceptedRequired,
  any,
  applied,
  appliedDefault,
  appliedRequired,
  bool,
  int,
  intOrString,
  list,
  map,
  obj,
  oneOf,
  section,
  sectionDefault,
  str,
  uint,
  type Infer,
} from "./schema.ts";

export const DEFAULT_KUBELET_IMAGE = "ghcr.io/siderolabs/kubelet:v1.30.0";
/** No hostname in the config: it comes from DHCP or the MAC (src/init/mechanisms/hostname.ts). */
export const DEFAULT_HOSTNAME = "";
/** Talos's default metric for routes from DHCP. */
export const DEFAULT_DHCP_ROUTE_METRIC = 1024;

const duration = () => str({ check: goDuration, label: "duration (Go syntax)" });
const strings = () => list(str());
const stringMap = () => map(str());
/** PEMEncodedCertificateAndKey; a worker's copy of a CA has `key: ""`. */
const pemPair = () =>
  obj({ crt: accepted(str({ check: base64PemOrEmpty, label: "base64 PEM" })), key: accepted(str({ check: base64PemOrEmpty, label: "base64 PEM" })) });
const pemCert = () => obj({ crt: acceptedRequired(str({ check: base64Pem, label: "base64 PEM" })) });

// ---- machine.network.interfaces ----

/** A deviceSelector; `tag` marks the keys minos matches links on (interfaces: applied; bonds: accepted). pciID is never matched. */
const deviceSelector = (tag: typeof accepted = accepted) =>
  obj({
    busPath: tag(str()),
    hardwareAddr: tag(str()),
    pciID: accepted(str()),
    driver: tag(str()),
    physical: tag(bool()),
  });

const talosRoute = () =>
  obj({
    network: accepted(str()),
    gateway: accepted(str()),
    source: accepted(str()),
    metric: accepted(uint(32)),
    mtu: accepted(uint(32)),
  });

const dhcpOptions = () =>
  obj({
    routeMetric: accepted(uint(32)),
    ipv4: accepted(bool()),
    ipv6: accepted(bool()),
    duidv6: accepted(str()),
  });

const vip = () =>
  obj({
    ip: accepted(str()),
    equinixMetal: accepted(obj({ apiToken: accepted(str()) })),
    hcloud: accepted(obj({ apiToken: accepted(str()) })),
  });

const bond = () =>
  obj({
    interfaces: accepted(strings()),
    deviceSelectors: accepted(list(deviceSelector())),
    arpIPTarget: accepted(strings()),
    mode: accepted(str()),
    xmitHashPolicy: accepted(str()),
    lacpRate: accepted(str()),
    adActorSystem: accepted(str()),
    arpValidate: accepted(str()),
    arpAllTargets: accepted(str()),
    primary: accepted(str()),
    primaryReselect: accepted(str()),
    failOverMac: accepted(str()),
    adSelect: accepted(str()),
    miimon: accepted(uint(32)),
    updelay: accepted(uint(32)),
    downdelay: accepted(uint(32)),
    arpInterval: accepted(uint(32)),
    resendIgmp: accepted(uint(32)),
    minLinks: accepted(uint(32)),
    lpInterval: accepted(uint(32)),
    packetsPerSlave: accepted(uint(32)),
    numPeerNotif: accepted(uint(8)),
    tlbDynamicLb: accepted(uint(8)),
    allSlavesActive: accepted(uint(8)),
    useCarrier: accepted(bool()),
    adActorSysPrio: accepted(uint(16)),
    adUserPortKey: accepted(uint(16)),
    peerNotifyDelay: accepted(uint(32)),
  });

const wireguard = () =>
  obj({
    privateKey: accepted(str()),
    listenPort: accepted(int()),
    firewallMark: accepted(int()),
    peers: accepted(
      list(
        obj({
          publicKey: accepted(str()),
          endpoint: accepted(str()),
          persistentKeepaliveInterval: accepted(duration()),
          allowedIPs: accepted(strings()),
        }),
      ),
    ),
  });

const networkInterface = obj({
  interface: applied(str({ check: interfaceName, label: "interface name" }), { note: "this or deviceSelector" }),
  deviceSelector: applied(deviceSelector(applied)),
  addresses: appliedDefault(list(str({ check: checkCidr46, label: "IPv4 or IPv6 CIDR" })), () => [], {
    note: "static IPv4 and IPv6; the first is the primary",
  }),
  cidr: accepted(str(), { note: "deprecated in Talos: use addresses" }),
  routes: appliedDefault(
    list(
      obj({
        network: appliedRequired(str({ check: checkNetwork46, label: "network (CIDR)" })),
        gateway: applied(str({ check: checkIp46, label: "IP address" }), { note: "absent: on-link" }),
        source: accepted(str()),
        metric: applied(int({ min: 0 })),
        mtu: accepted(uint(32)),
      }),
    ),
    () => [],
  ),
  bond: accepted(bond()),
  bridge: accepted(obj({ interfaces: accepted(strings()), stp: accepted(obj({ enabled: accepted(bool()) })) })),
  vlans: accepted(
    list(
      obj({
        addresses: accepted(strings()),
        cidr: accepted(str(), { note: "deprecated in Talos" }),
        routes: accepted(list(talosRoute())),
        dhcp: accepted(bool()),
        vlanId: accepted(uint(16)),
        mtu: accepted(uint(32)),
        vip: accepted(vip()),
        dhcpOptions: accepted(dhcpOptions()),
      }),
    ),
  ),
  mtu: applied(int({ min: 68, max: 65535 })),
  dhcp: appliedDefault(bool(), () => false, { note: "DHCPv4 in minos" }),
  ignore: accepted(bool()),
  dummy: accepted(bool()),
  dhcpOptions: appliedDefault(
    obj({
      routeMetric: appliedDefault(uint(32), () => DEFAULT_DHCP_ROUTE_METRIC),
      ipv4: appliedDefault(bool(), () => true),
      ipv6: appliedDefault(bool(), () => false, { note: "true is refused: no DHCPv6" }),
      duidv6: accepted(str()),
    }),
    () => ({}),
  ),
  wireguard: accepted(wireguard()),
  vip: accepted(vip()),
});

// ---- machine ----

const idMapping = () => obj({ containerID: accepted(uint(32)), hostID: accepted(uint(32)), size: accepted(uint(32)) });

const kubelet = obj({
  image: appliedDefault(str(), () => DEFAULT_KUBELET_IMAGE),
  clusterDNS: accepted(strings()),
  extraArgs: appliedDefault(stringMap(), () => ({})),
  extraMounts: applied(
    list(
      obj({
        destination: appliedRequired(str()),
        type: applied(str()),
        source: applied(str()),
        options: applied(strings()),
        uidMappings: accepted(list(idMapping())),
        gidMappings: accepted(list(idMapping())),
      }),
    ),
  ),
  extraConfig: accepted(map(any())),
  credentialProviderConfig: accepted(map(any())),
  defaultRuntimeSeccompProfileEnabled: accepted(bool()),
  registerWithFQDN: accepted(bool()),
  nodeIP: accepted(obj({ validSubnets: accepted(strings()) })),
  skipNodeRegistration: accepted(bool()),
  disableManifestsDirectory: accepted(bool()),
});

const network = obj({
  hostname: appliedDefault(str({ check: (v) => (v === "" ? undefined : hostname(v)), label: "hostname (RFC 1123)" }), () => DEFAULT_HOSTNAME, {
    note: "unset: DHCP's, else minos-xxx-yyy from the MAC",
  }),
  interfaces: appliedDefault(list(networkInterface), () => [], { note: "none and no ip=: DHCP on every physical link" }),
  nameservers: appliedDefault(list(str({ check: checkIp46, label: "IP address" })), () => []),
  searchDomains: appliedDefault(list(str({ check: hostname, label: "domain" })), () => [], { note: "Talos 1.8" }),
  extraHostEntries: appliedDefault(
    list(
      obj({
        ip: appliedRequired(str({ check: checkIp46, label: "IP address" })),
        aliases: appliedDefault(list(str({ check: hostname, label: "name" })), () => []),
      }),
    ),
    () => [],
  ),
  kubespan: accepted(
    obj({
      enabled: accepted(bool()),
      advertiseKubernetesNetworks: accepted(bool()),
      allowDownPeerBypass: accepted(bool()),
      harvestExtraEndpoints: accepted(bool()),
      mtu: accepted(uint(32)),
      filters: accepted(obj({ endpoints: accepted(strings()) })),
    }),
  ),
  disableSearchDomain: appliedDefault(bool(), () => false),
});

const install = obj({
  disk: applied(
    str({
      check: (v) => (/^\/dev\/[^\s]+$/.test(v) && !v.split("/").includes("..") ? undefined : `"${v}" must be a device path under /dev`),
      label: "device path",
    }),
    {
      note: "partitioned (GPT: STATE, EPHEMERAL, room for a bootloader), formatted, state persisted",
    },
  ),
  diskSelector: applied(
    obj({
      size: applied(intOrString(sizeCondition, 'size condition (">= 1TB") or int', { min: 0 })),
      name: applied(str()),
      model: applied(str()),
      serial: applied(str()),
      modalias: applied(str()),
      uuid: applied(str()),
      wwid: applied(str()),
      type: applied(oneOf(["ssd", "hdd", "nvme", "sd"])),
      busPath: applied(str()),
    }),
  ),
  extraKernelArgs: accepted(strings()),
  image: accepted(str()),
  extensions: accepted(list(obj({ image: acceptedRequired(str()) }))),
  bootloader: accepted(bool(), { note: "deprecated in Talos" }),
  wipe: appliedDefault(bool(), () => false),
  legacyBIOSSupport: accepted(bool()),
});

const encryption = () =>
  obj({
    provider: accepted(str()),
    keys: accepted(
      list(
        obj({
          static: accepted(obj({ passphrase: accepted(str()) })),
          nodeID: accepted(obj({})),
          kms: accepted(obj({ endpoint: accepted(str()) })),
          slot: accepted(int({ min: 0 })),
          tpm: accepted(obj({ checkSecurebootStatusOnEnroll: accepted(bool()) })),
        }),
      ),
    ),
    cipher: accepted(str()),
    keySize: accepted(uint(32)),
    blockSize: accepted(uint(64)),
    options: accepted(strings()),
  });

const registries = obj({
  mirrors: applied(map(obj({ endpoints: appliedDefault(strings(), () => []), overridePath: applied(bool()) })), {
    note: "endpoints tried in order, then the registry itself; http:// is plain HTTP",
  }),
  config: applied(
    map(
      obj({
        tls: applied(obj({ clientIdentity: applied(pemPair()), ca: applied(str({ check: base64, label: "base64" })), insecureSkipVerify: applied(bool()) })),
        auth: applied(obj({ username: applied(str()), password: applied(str()), auth: applied(str()), identityToken: applied(str()) })),
      }),
    ),
    { note: "keyed by endpoint host[:port]" },
  ),
});

const features = obj({
  rbac: accepted(bool()),
  stableHostname: accepted(bool()),
  kubernetesTalosAPIAccess: accepted(obj({ enabled: accepted(bool()), allowedRoles: accepted(strings()), allowedKubernetesNamespaces: accepted(strings()) })),
  apidCheckExtKeyUsage: accepted(bool()),
  diskQuotaSupport: accepted(bool()),
  kubePrism: accepted(obj({ enabled: accepted(bool()), port: accepted(int({ min: 1, max: 65535 })) })),
  hostDNS: accepted(obj({ enabled: accepted(bool()), forwardKubeDNSToHost: accepted(bool()), resolveMemberNames: accepted(bool()) })),
});

const machine = obj({
  type: applied(oneOf(["init", "controlplane", "worker"]), { note: "controlplane (init: its legacy alias) runs etcd; absent: worker" }),
  token: accepted(str()),
  ca: applied(
    obj({ crt: appliedRequired(str({ check: base64Pem, label: "base64 PEM" })), key: appliedRequired(str({ check: base64PemOrEmpty, label: "base64 PEM" })) }),
    {
      note: 'node CA for the API\'s mutual TLS; key "" (a worker) means no key',
    },
  ),
  acceptedCAs: accepted(list(pemCert())),
  certSANs: accepted(strings()),
  controlPlane: accepted(obj({ controllerManager: accepted(obj({ disabled: accepted(bool()) })), scheduler: accepted(obj({ disabled: accepted(bool()) })) })),
  kubelet: sectionDefault(kubelet, () => ({})),
  pods: accepted(list(map(any()))),
  network: sectionDefault(network, () => ({})),
  disks: accepted(
    list(
      obj({
        device: accepted(str()),
        partitions: accepted(list(obj({ size: accepted(intOrString(humanSize, 'size ("100 MB") or int', { min: 0 })), mountpoint: accepted(str()) }))),
      }),
    ),
  ),
  install: section(install),
  files: appliedDefault(
    list(
      obj({
        path: appliedRequired(str({ check: absolutePath, label: "absolute path" })),
        content: appliedRequired(str()),
        permissions: appliedDefault(int({ min: 0, max: 0o7777 }), () => 0o644),
        op: appliedDefault(oneOf(["create", "append", "overwrite"]), () => "create"),
      }),
    ),
    () => [],
  ),
  env: appliedDefault(stringMap(), () => ({}), { note: "given to every service" }),
  time: applied(obj({ disabled: applied(bool()), servers: applied(strings()), bootTimeout: applied(duration()) }), {
    note: "SNTP in minos; in the sandbox the offset is only logged",
  }),
  sysctls: appliedDefault(stringMap(), () => ({})),
  sysfs: accepted(stringMap()),
  registries: applied(registries, { note: "image pulls (kubelet, container services, ImagePull)" }),
  systemDiskEncryption: accepted(obj({ state: accepted(encryption()), ephemeral: accepted(encryption()) })),
  features: accepted(features),
  udev: accepted(obj({ rules: accepted(strings()) })),
  logging: sectionDefault(
    obj({
      destinations: appliedDefault(
        list(
          obj({
            endpoint: appliedRequired(str({ check: logEndpoint, label: "tcp:// or udp://host:port" })),
            format: appliedRequired(oneOf(["json_lines"])),
            extraTags: appliedDefault(stringMap(), () => ({})),
          }),
        ),
        () => [],
      ),
    }),
    () => ({}),
  ),
  kernel: sectionDefault(
    obj({ modules: appliedDefault(list(obj({ name: appliedRequired(str()), parameters: appliedDefault(strings(), () => []) })), () => []) }),
    () => ({ modules: [] }),
  ),
  seccompProfiles: accepted(list(obj({ name: acceptedRequired(str()), value: accepted(map(any())) }))),
  nodeLabels: accepted(stringMap()),
  nodeAnnotations: accepted(stringMap(), { note: "Talos 1.8" }),
  nodeTaints: accepted(stringMap()),
});

// ---- cluster ----

const volumes = () => list(obj({ hostPath: acceptedRequired(str()), mountPath: acceptedRequired(str()), readonly: accepted(bool()) }));
const resources = () => obj({ requests: accepted(map(any())), limits: accepted(map(any())) });

const cluster = obj({
  id: accepted(str()),
  secret: accepted(str()),
  controlPlane: section(
    obj({
      endpoint: applied(str({ check: url, label: "URL" }), {
        note: "its host's addresses are where a joining etcd member looks for the cluster (docs/etcd.md)",
      }),
      localAPIServerPort: accepted(int({ min: 0, max: 65535 })),
    }),
  ),
  clusterName: accepted(str()),
  network: accepted(
    obj({
      cni: accepted(
        obj({
          name: accepted(oneOf(["flannel", "custom", "none"])),
          urls: accepted(strings()),
          flannel: accepted(obj({ extraArgs: accepted(strings()) })),
        }),
      ),
      dnsDomain: accepted(str()),
      podSubnets: accepted(strings()),
      serviceSubnets: accepted(strings()),
    }),
  ),
  token: accepted(str()),
  aescbcEncryptionSecret: accepted(str()),
  secretboxEncryptionSecret: accepted(str()),
  ca: accepted(pemPair()),
  acceptedCAs: accepted(list(pemCert())),
  aggregatorCA: accepted(pemPair()),
  serviceAccount: accepted(obj({ key: accepted(str({ check: base64PemOrEmpty, label: "base64 PEM" })) })),
  apiServer: accepted(
    obj({
      image: accepted(str()),
      extraArgs: accepted(stringMap()),
      extraVolumes: accepted(volumes()),
      env: accepted(stringMap()),
      certSANs: accepted(strings()),
      disablePodSecurityPolicy: accepted(bool()),
      admissionControl: accepted(list(obj({ name: acceptedRequired(str()), configuration: accepted(map(any())) }))),
      auditPolicy: accepted(map(any())),
      resources: accepted(resources()),
    }),
  ),
  controllerManager: accepted(
    obj({
      image: accepted(str()),
      extraArgs: accepted(stringMap()),
      extraVolumes: accepted(volumes()),
      env: accepted(stringMap()),
      resources: accepted(resources()),
    }),
  ),
  proxy: accepted(obj({ disabled: accepted(bool()), image: accepted(str()), mode: accepted(str()), extraArgs: accepted(stringMap()) })),
  scheduler: accepted(
    obj({
      image: accepted(str()),
      extraArgs: accepted(stringMap()),
      extraVolumes: accepted(volumes()),
      env: accepted(stringMap()),
      resources: accepted(resources()),
      config: accepted(map(any())),
    }),
  ),
  discovery: accepted(
    obj({
      enabled: accepted(bool()),
      registries: accepted(
        obj({
          kubernetes: accepted(obj({ disabled: accepted(bool()) })),
          service: accepted(obj({ disabled: accepted(bool()), endpoint: accepted(str()) })),
        }),
      ),
    }),
  ),
  etcd: section(
    obj({
      image: applied(str(), { note: "the etcd container image; until the container runner lands a process runs the same spec (docs/etcd.md)" }),
      ca: applied(
        obj({
          crt: appliedRequired(str({ check: base64Pem, label: "base64 PEM" })),
          key: appliedRequired(str({ check: base64PemOrEmpty, label: "base64 PEM" })),
        }),
        { note: "control-plane nodes issue etcd's peer, server and admin certificates from it" },
      ),
      extraArgs: applied(stringMap()),
      subnet: accepted(str(), { note: "deprecated in Talos: use advertisedSubnets" }),
      advertisedSubnets: applied(strings()),
      listenSubnets: applied(strings()),
    }),
  ),
  coreDNS: accepted(obj({ disabled: accepted(bool()), image: accepted(str()) })),
  externalCloudProvider: accepted(obj({ enabled: accepted(bool()), manifests: accepted(strings()) })),
  extraManifests: accepted(strings()),
  extraManifestHeaders: accepted(stringMap()),
  inlineManifests: accepted(list(obj({ name: acceptedRequired(str()), contents: accepted(str()) }))),
  adminKubeconfig: accepted(obj({ certLifetime: accepted(duration()) })),
  allowSchedulingOnMasters: accepted(bool(), { note: "deprecated in Talos" }),
  allowSchedulingOnControlPlanes: accepted(bool()),
});

// ---- minos (not Talos) ----

const minos = obj({
  services: appliedDefault(
    list(
      obj({
        id: appliedRequired(str({ check: serviceId, label: "service id" })),
        command: appliedDefault(strings(), () => [], { note: "required without image; with image, replaces its entrypoint and cmd" }),
        image: applied(str(), { note: "run as a container of this image (Talos's extension services)" }),
        mounts: appliedDefault(
          list(
            obj({
              source: appliedRequired(str({ check: absolutePath, label: "absolute path" })),
              destination: appliedRequired(str({ check: absolutePath, label: "absolute path" })),
              type: appliedDefault(str(), () => "bind"),
              options: appliedDefault(strings(), () => ["rbind", "ro"]),
            }),
          ),
          () => [],
          { note: "container mounts (image services only)" },
        ),
        dependsOn: appliedDefault(strings(), () => []),
        restart: appliedDefault(oneOf(["always", "on-failure", "never"]), () => "on-failure"),
        backoff: appliedDefault(
          obj({ initialMs: appliedDefault(int({ min: 1 }), () => 250), maxMs: appliedDefault(int({ min: 1 }), () => 30_000) }),
          () => ({}),
        ),
        stopGraceMs: appliedDefault(int({ min: 0 }), () => 10_000),
        env: appliedDefault(stringMap(), () => ({})),
        console: appliedDefault(bool(), () => false),
      }),
    ),
    () => [],
    { note: "extra supervised services" },
  ),
});

export const V1ALPHA1 = obj({
  version: appliedRequired(oneOf(["v1alpha1"])),
  debug: accepted(bool()),
  persist: accepted(bool()),
  machine: sectionDefault(machine, () => ({})),
  cluster: section(cluster),
  minos: sectionDefault(minos, () => ({}), { note: "minos extension, not Talos" }),
});

/** The v1alpha1 document as parsed: applied keys with their defaults, accepted keys as given. */
export type V1Alpha1Config = Infer<typeof V1ALPHA1>;

const BUILTIN_IDS = ["udevd", "containerd", "dashboard", "kubelet"];

/**
 * Cross-field rules the walker cannot express (the same ones init has always
 * applied). Runs after type errors too, so every problem is listed at once;
 * values that failed their type check are undefined and skipped here.
 */
export function checkV1Alpha1(cfg: V1Alpha1Config, errors: string[]): void {
  const ids = new Set(BUILTIN_IDS);
  const services = cfg.minos?.services ?? [];
  services.forEach((s, i) => {
    if (!s) return;
    if (typeof s.id === "string") {
      if (ids.has(s.id)) errors.push(`minos.services[${i}].id: "${s.id}" is already a service`);
      ids.add(s.id);
    }
    if (!Array.isArray(s.command)) return;
    if (typeof s.image === "string") return; // an image's own entrypoint is a path inside the image
    if (s.command.length === 0) errors.push(`minos.services[${i}].command: must not be empty (or give an image)`);
    else if (typeof s.command[0] === "string" && !s.command[0].startsWith("/"))
      errors.push(`minos.services[${i}].command[0]: "${s.command[0]}" must be an absolute path`);
  });
  services.forEach((s, i) =>
    (Array.isArray(s?.dependsOn) ? s.dependsOn : []).forEach((d, j) => {
      if (typeof d === "string" && !ids.has(d)) errors.push(`minos.services[${i}].dependsOn[${j}]: unknown service "${d}"`);
    }),
  );
  // An interface is configured once: a second entry would silently fight the first. Each entry names
  // its link one way (interface or deviceSelector); a route's gateway is of its network's family; no DHCPv6.
  const seen = new Set<string>();
  (cfg.machine?.network?.interfaces ?? []).forEach((i, n) => {
    if (!i) return;
    const at = `machine.network.interfaces[${n}]`;
    if (i.interface !== undefined && i.deviceSelector !== undefined) errors.push(`${at}: interface and deviceSelector are mutually exclusive`);
    if (i.interface === undefined && i.deviceSelector === undefined) errors.push(`${at}: one of interface or deviceSelector is required`);
    if (i.deviceSelector && Object.keys(i.deviceSelector).length === 0) errors.push(`${at}.deviceSelector: names no property to match`);
    if (i.dhcpOptions?.ipv6)
      errors.push(`${at}.dhcpOptions.ipv6: DHCPv6 is not supported by minos (IPv6 comes from static addresses and router advertisements)`);
    (i.routes ?? []).forEach((r, k) => {
      if (typeof r?.gateway === "string" && typeof r.network === "string" && familyOf(r.gateway) !== familyOf(r.network))
        errors.push(`${at}.routes[${k}].gateway: "${r.gateway}" is not of the family of network "${r.network}"`);
    });
    if (typeof i.interface !== "string") return;
    if (seen.has(i.interface)) errors.push(`${at}.interface: "${i.interface}" is configured twice`);
    seen.add(i.interface);
  });
}
