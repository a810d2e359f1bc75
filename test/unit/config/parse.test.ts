// The v1alpha1 schema and the multi-document config: what `talosctl gen config`
// writes is accepted with the right warnings, every type error names its YAML
// path, unknown keys and kinds are refused, other kinds are type-checked.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";

const FIXTURES = join(import.meta.dir, "..", "..", "fixtures", "config");
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const pem = (label: string) => Buffer.from(`-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`).toString("base64");

function errorOf(text: string | Uint8Array): string {
  try {
    parseConfigDocuments(text);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return (e as Error).message;
  }
  throw new Error("config was accepted");
}

const NA = "accepted, not applied";
const warn = (...paths: string[]) => paths.map((p) => `${p}: ${NA}`);

describe("configs as talosctl gen config writes them (Talos 1.7 shapes)", () => {
  const COMMON_MACHINE = warn(
    "debug",
    "persist",
    "machine.token",
    "machine.certSANs",
    "machine.kubelet.defaultRuntimeSeccompProfileEnabled",
    "machine.kubelet.disableManifestsDirectory",
    "machine.install.image",
    "machine.features",
  );
  const cases: { file: string; type: string; warnings: string[] }[] = [
    {
      file: "controlplane.yaml",
      type: "controlplane",
      warnings: [
        ...COMMON_MACHINE,
        ...warn(
          ...["id", "secret", "clusterName", "network", "token", "secretboxEncryptionSecret", "ca", "aggregatorCA", "serviceAccount", "apiServer"].map(
            (k) => `cluster.${k}`,
          ),
          ...["controllerManager", "proxy", "scheduler", "discovery", "extraManifests", "inlineManifests"].map((k) => `cluster.${k}`),
        ),
      ],
    },
    {
      file: "worker.yaml",
      type: "worker",
      warnings: [...COMMON_MACHINE, ...warn(...["id", "secret", "network", "token", "ca", "discovery"].map((k) => `cluster.${k}`))],
    },
  ];
  for (const c of cases) {
    test(`${c.file}: accepted with zero errors, one warning per accepted key present`, () => {
      const r = parseConfigDocuments(fixture(c.file));
      expect(r.warnings).toEqual(c.warnings);
      expect(r.documents).toEqual([]);
      expect(r.config.machine.type).toBe(c.type as "worker");
      // Applied keys: as given, else minos's defaults.
      expect(r.config.machine.kubelet.image).toBe("ghcr.io/siderolabs/kubelet:v1.30.3");
      expect(r.config.machine.network).toEqual({
        hostname: "",
        interfaces: [],
        nameservers: [],
        searchDomains: [],
        extraHostEntries: [],
        disableSearchDomain: false,
      });
      expect(r.config.machine.ca?.crt).toMatch(/^LS0tLS1CRUdJTi/);
      // Accepted keys are stored as given.
      expect(r.config.machine.features?.kubePrism).toEqual({ enabled: true, port: 7445 });
      expect(r.config.cluster?.network?.podSubnets).toEqual(["10.244.0.0/16"]);
      expect(r.config.cluster?.discovery?.registries?.service).toEqual({});
    });
  }

  test('a worker\'s CA copies carry key: ""', () => {
    const r = parseConfigDocuments(fixture("worker.yaml"));
    expect(r.config.machine.ca?.key).toBe("");
    expect(r.config.cluster?.ca?.key).toBe("");
  });

  test("the control plane's admission config and audit policy (Unstructured) are kept as YAML gave them", () => {
    const r = parseConfigDocuments(fixture("controlplane.yaml"));
    const admission = r.config.cluster?.apiServer?.admissionControl?.[0];
    expect(admission?.name).toBe("PodSecurity");
    expect((admission!.configuration as { exemptions: { namespaces: string[] } }).exemptions.namespaces).toEqual(["kube-system"]);
    expect(r.config.cluster?.apiServer?.auditPolicy).toEqual({ apiVersion: "audit.k8s.io/v1", kind: "Policy", rules: [{ level: "Metadata" }] });
  });
});

describe("every key's type error names its YAML path", () => {
  // [yaml under the v1alpha1 document, the message it must produce]
  const cases: [string, string][] = [
    ["debug: yes-please", "debug: expected boolean, got string"],
    ["persist: 1", "persist: expected boolean, got number"],
    ["machine:\n  type: master", 'machine.type: expected one of init, controlplane, worker, got "master"'],
    ["machine:\n  token: 5", "machine.token: expected string, got number"],
    ["machine:\n  ca:\n    crt: bm90IGEgcGVt\n    key: ''", "machine.ca.crt: expected base64 of a PEM block"],
    ["machine:\n  acceptedCAs: [{}]", "machine.acceptedCAs[0].crt: required"],
    ["machine:\n  certSANs: 10.0.0.1", "machine.certSANs: expected list, got string"],
    ["machine:\n  controlPlane:\n    scheduler:\n      disabled: 'true'", "machine.controlPlane.scheduler.disabled: expected boolean, got string"],
    ["machine:\n  kubelet:\n    image: [a]", "machine.kubelet.image: expected string, got list"],
    ["machine:\n  kubelet:\n    clusterDNS: [1]", "machine.kubelet.clusterDNS[0]: expected string, got number"],
    ["machine:\n  kubelet:\n    extraArgs:\n      v: 2", "machine.kubelet.extraArgs.v: expected string, got number"],
    ["machine:\n  kubelet:\n    extraMounts:\n      - source: /x", "machine.kubelet.extraMounts[0].destination: required"],
    [
      "machine:\n  kubelet:\n    extraMounts:\n      - destination: /x\n        uidMappings: [{ size: -1 }]",
      "machine.kubelet.extraMounts[0].uidMappings[0].size: must be at least 0, got -1",
    ],
    ["machine:\n  kubelet:\n    extraConfig: [a]", "machine.kubelet.extraConfig: expected map, got list"],
    ["machine:\n  kubelet:\n    registerWithFQDN: 0", "machine.kubelet.registerWithFQDN: expected boolean, got number"],
    ["machine:\n  kubelet:\n    nodeIP:\n      validSubnets: 10.0.0.0/8", "machine.kubelet.nodeIP.validSubnets: expected list, got string"],
    ["machine:\n  kubelet:\n    skipNodeRegistration: x", "machine.kubelet.skipNodeRegistration: expected boolean, got string"],
    ["machine:\n  pods: [1]", "machine.pods[0]: expected map, got number"],
    ["machine:\n  network:\n    nameservers: [1.1.1.1, 8]", "machine.network.nameservers[1]: expected string, got number"],
    ["machine:\n  network:\n    searchDomains: x", "machine.network.searchDomains: expected list, got string"],
    ["machine:\n  network:\n    disableSearchDomain: x", "machine.network.disableSearchDomain: expected boolean, got string"],
    ["machine:\n  network:\n    extraHostEntries: [{ ip: 10.0.0.1, aliases: x }]", "machine.network.extraHostEntries[0].aliases: expected list, got string"],
    ["machine:\n  network:\n    kubespan:\n      mtu: 1.5", "machine.network.kubespan.mtu: expected integer, got number"],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        deviceSelector: { physical: 1 }",
      "machine.network.interfaces[0].deviceSelector.physical: expected boolean, got number",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        bond: { mode: 802.3ad, miimon: -1 }",
      "machine.network.interfaces[0].bond.miimon: must be at least 0, got -1",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        bond: { numPeerNotif: 256 }",
      "machine.network.interfaces[0].bond.numPeerNotif: must be at most 255, got 256",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: br0\n        bridge: { stp: { enabled: 1 } }",
      "machine.network.interfaces[0].bridge.stp.enabled: expected boolean, got number",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vlans: [{ vlanId: 70000 }]",
      "machine.network.interfaces[0].vlans[0].vlanId: must be at most 65535, got 70000",
    ],
    ["machine:\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: 'yes'", "machine.network.interfaces[0].dhcp: expected boolean, got string"],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        dhcpOptions: { routeMetric: x }",
      "machine.network.interfaces[0].dhcpOptions.routeMetric: expected integer, got string",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: wg0\n        wireguard: { peers: [{ persistentKeepaliveInterval: 10 }] }",
      "machine.network.interfaces[0].wireguard.peers[0].persistentKeepaliveInterval: expected string, got number",
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: wg0\n        wireguard: { peers: [{ persistentKeepaliveInterval: 10 minutes }] }",
      'machine.network.interfaces[0].wireguard.peers[0].persistentKeepaliveInterval: "10 minutes" is not a duration',
    ],
    [
      "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip: { hcloud: { apiToken: 1 } }",
      "machine.network.interfaces[0].vip.hcloud.apiToken: expected string, got number",
    ],
    ["machine:\n  network:\n    interfaces:\n      - interface: eth0\n        ignore: 1", "machine.network.interfaces[0].ignore: expected boolean, got number"],
    ["machine:\n  network:\n    interfaces:\n      - interface: dummy0\n        dummy: 1", "machine.network.interfaces[0].dummy: expected boolean, got number"],
    ["machine:\n  disks: [{ device: /dev/sdb, partitions: [{ size: lots }] }]", 'machine.disks[0].partitions[0].size: "lots" is not a size'],
    ["machine:\n  install:\n    diskSelector: { type: floppy }", 'machine.install.diskSelector.type: expected one of ssd, hdd, nvme, sd, got "floppy"'],
    ["machine:\n  install:\n    diskSelector: { size: '>= lots' }", 'machine.install.diskSelector.size: ">= lots" is not a size condition'],
    ["machine:\n  install:\n    extraKernelArgs: console=ttyS0", "machine.install.extraKernelArgs: expected list, got string"],
    ["machine:\n  install:\n    extensions: [{ image: 1 }]", "machine.install.extensions[0].image: expected string, got number"],
    ["machine:\n  install:\n    wipe: no", "machine.install.wipe: expected boolean, got string"],
    ["machine:\n  install:\n    legacyBIOSSupport: 1", "machine.install.legacyBIOSSupport: expected boolean, got number"],
    ["machine:\n  files: [{ path: /var/x, content: 1 }]", "machine.files[0].content: expected string, got number"],
    ["machine:\n  env:\n    A: [1]", "machine.env.A: expected string, got list"],
    ["machine:\n  time:\n    bootTimeout: 2 minutes", 'machine.time.bootTimeout: "2 minutes" is not a duration'],
    ["machine:\n  time:\n    servers: time.cloudflare.com", "machine.time.servers: expected list, got string"],
    ["machine:\n  sysfs:\n    devices.x: 1", 'machine.sysfs["devices.x"]: expected string, got number'],
    [
      "machine:\n  registries:\n    mirrors:\n      docker.io: { endpoints: https://m }",
      'machine.registries.mirrors["docker.io"].endpoints: expected list, got string',
    ],
    ["machine:\n  registries:\n    config:\n      r.io: { tls: { ca: '%%%' } }", 'machine.registries.config["r.io"].tls.ca: expected base64'],
    [
      "machine:\n  registries:\n    config:\n      r.io: { auth: { password: 1 } }",
      'machine.registries.config["r.io"].auth.password: expected string, got number',
    ],
    ["machine:\n  systemDiskEncryption:\n    state: { keys: [{ slot: x }] }", "machine.systemDiskEncryption.state.keys[0].slot: expected integer, got string"],
    ["machine:\n  features:\n    kubePrism: { port: 70000 }", "machine.features.kubePrism.port: must be at most 65535, got 70000"],
    ["machine:\n  features:\n    hostDNS: { resolveMemberNames: 1 }", "machine.features.hostDNS.resolveMemberNames: expected boolean, got number"],
    [
      "machine:\n  features:\n    kubernetesTalosAPIAccess: { allowedRoles: os:reader }",
      "machine.features.kubernetesTalosAPIAccess.allowedRoles: expected list, got string",
    ],
    ["machine:\n  udev:\n    rules: [1]", "machine.udev.rules[0]: expected string, got number"],
    [
      "machine:\n  logging:\n    destinations: [{ endpoint: udp://1.2.3.4:5, format: text }]",
      'machine.logging.destinations[0].format: expected one of json_lines, got "text"',
    ],
    ["machine:\n  kernel:\n    modules: [{ name: x, parameters: y }]", "machine.kernel.modules[0].parameters: expected list, got string"],
    ["machine:\n  seccompProfiles: [{ value: {} }]", "machine.seccompProfiles[0].name: required"],
    ["machine:\n  nodeLabels:\n    a: 1", "machine.nodeLabels.a: expected string, got number"],
    ["machine:\n  nodeAnnotations:\n    a: true", "machine.nodeAnnotations.a: expected string, got boolean"],
    ["machine:\n  nodeTaints:\n    a: null", "machine.nodeTaints.a: expected string, got null"],
    ["cluster:\n  id: 1", "cluster.id: expected string, got number"],
    ["cluster:\n  controlPlane:\n    endpoint: 10.0.0.1:6443", 'cluster.controlPlane.endpoint: "10.0.0.1:6443" is not a URL'],
    ["cluster:\n  controlPlane:\n    localAPIServerPort: x", "cluster.controlPlane.localAPIServerPort: expected integer, got string"],
    ["cluster:\n  clusterName: [a]", "cluster.clusterName: expected string, got list"],
    ["cluster:\n  network:\n    cni: { name: calico }", 'cluster.network.cni.name: expected one of flannel, custom, none, got "calico"'],
    ["cluster:\n  network:\n    dnsDomain: 1", "cluster.network.dnsDomain: expected string, got number"],
    ["cluster:\n  network:\n    podSubnets: 10.244.0.0/16", "cluster.network.podSubnets: expected list, got string"],
    ["cluster:\n  network:\n    serviceSubnets: [1]", "cluster.network.serviceSubnets[0]: expected string, got number"],
    ["cluster:\n  secretboxEncryptionSecret: 1", "cluster.secretboxEncryptionSecret: expected string, got number"],
    ["cluster:\n  aescbcEncryptionSecret: true", "cluster.aescbcEncryptionSecret: expected string, got boolean"],
    ["cluster:\n  ca: { crt: 1 }", "cluster.ca.crt: expected string, got number"],
    ["cluster:\n  aggregatorCA: { key: bm90IGEgcGVt }", "cluster.aggregatorCA.key: expected base64 of a PEM block"],
    ["cluster:\n  serviceAccount: { key: [] }", "cluster.serviceAccount.key: expected string, got list"],
    ["cluster:\n  apiServer: { extraVolumes: [{ mountPath: /x }] }", "cluster.apiServer.extraVolumes[0].hostPath: required"],
    [
      "cluster:\n  apiServer: { admissionControl: [{ name: x, configuration: 1 }] }",
      "cluster.apiServer.admissionControl[0].configuration: expected map, got number",
    ],
    ["cluster:\n  apiServer: { resources: { limits: 1 } }", "cluster.apiServer.resources.limits: expected map, got number"],
    ["cluster:\n  controllerManager: { env: { A: 1 } }", "cluster.controllerManager.env.A: expected string, got number"],
    ["cluster:\n  proxy: { disabled: 1 }", "cluster.proxy.disabled: expected boolean, got number"],
    ["cluster:\n  scheduler: { config: x }", "cluster.scheduler.config: expected map, got string"],
    ["cluster:\n  discovery: { registries: { service: { endpoint: 1 } } }", "cluster.discovery.registries.service.endpoint: expected string, got number"],
    ["cluster:\n  etcd: { image: 1 }", "cluster.etcd.image: expected string, got number"],
    ["cluster:\n  etcd: { ca: { crt: 'bm9wZQ==' } }", "cluster.etcd.ca.crt: expected base64 of a PEM block"],
    ["cluster:\n  etcd: { extraArgs: { a: 1 } }", "cluster.etcd.extraArgs.a: expected string, got number"],
    ["cluster:\n  etcd: { advertisedSubnets: x }", "cluster.etcd.advertisedSubnets: expected list, got string"],
    ["cluster:\n  etcd: { listenSubnets: [1] }", "cluster.etcd.listenSubnets[0]: expected string, got number"],
    ["cluster:\n  coreDNS: { disabled: x }", "cluster.coreDNS.disabled: expected boolean, got string"],
    ["cluster:\n  externalCloudProvider: { manifests: x }", "cluster.externalCloudProvider.manifests: expected list, got string"],
    ["cluster:\n  extraManifests: x", "cluster.extraManifests: expected list, got string"],
    ["cluster:\n  extraManifestHeaders: { A: 1 }", "cluster.extraManifestHeaders.A: expected string, got number"],
    ["cluster:\n  inlineManifests: [{ contents: x }]", "cluster.inlineManifests[0].name: required"],
    ["cluster:\n  adminKubeconfig: { certLifetime: 1y }", 'cluster.adminKubeconfig.certLifetime: "1y" is not a duration'],
    ["cluster:\n  allowSchedulingOnControlPlanes: 'true'", "cluster.allowSchedulingOnControlPlanes: expected boolean, got string"],
    ["minos:\n  services: [{ id: web, command: /bin/x }]", "minos.services[0].command: expected list, got string"],
  ];
  for (const [yaml, want] of cases) {
    test(want.split(":")[0]!, () => {
      expect(errorOf(`version: v1alpha1\n${yaml}\n`)).toContain(want);
    });
  }

  test("every problem is listed at once, under one header", () => {
    const msg = errorOf("version: v1alpha1\nmachine:\n  sysctls: { a: 1 }\n  time: { disabled: 2 }\ncluster:\n  proxy: { mode: 3 }\n");
    expect(msg.split("\n")).toEqual([
      "invalid machine config:",
      "  machine.time.disabled: expected boolean, got number",
      "  machine.sysctls.a: expected string, got number",
      "  cluster.proxy.mode: expected string, got number",
    ]);
  });

  test("accepted keys that are valid produce warnings, applied ones none", () => {
    const r = parseConfigDocuments(
      `version: v1alpha1\nmachine:\n  sysctls: { a: "1" }\n  time: { servers: [ntp.example] }\n  network:\n    hostname: n1\n    nameservers: [10.0.0.53]\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.5/24]\n        routes: [{ network: 0.0.0.0/0, gateway: 10.0.0.1, source: 10.0.0.5 }]\n        vip: { ip: 10.0.0.100 }\n`,
    );
    expect(r.warnings).toEqual(warn("machine.network.interfaces[0].routes[0].source", "machine.network.interfaces[0].vip"));
    expect(r.config.machine.network.interfaces[0]?.vip).toEqual({ ip: "10.0.0.100" });
  });
});

describe("unknown keys and kinds", () => {
  const cases: [string, string][] = [
    ["version: v1alpha1\nmachine:\n  netwrok: {}\n", "machine.netwrok: unknown key (known: type, token, ca,"],
    [
      "version: v1alpha1\ncluster:\n  etcd: { peers: [] }\n",
      "cluster.etcd.peers: unknown key (known: image, ca, extraArgs, subnet, advertisedSubnets, listenSubnets)",
    ],
    [
      "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - interface: eth0\n        bond: { bogus: 1 }\n",
      "machine.network.interfaces[0].bond.bogus: unknown key",
    ],
    ["version: v1alpha1\nmachine:\n  features:\n    imageCache: {}\n", "machine.features.imageCache: unknown key"],
    ["version: v1alpha1\nextra: 1\n", "extra: unknown key (known: version, debug, persist, machine, cluster, minos)"],
    // Object.prototype's names are unknown keys too, not "known" through the prototype.
    ["version: v1alpha1\nmachine:\n  constructor: {}\n", "machine.constructor: unknown key"],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\n", 'document[1].kind: unknown kind "VolumeConfig" (Talos 1.7 kinds:'],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: TrustedRootsConfig\nname: x\n", 'document[1].kind: unknown kind "TrustedRootsConfig"'],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: [x]\n", "document[1].kind: expected string, got list"],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: a\nurl: udp://10.0.0.1:5\nlevel: 3\n",
      "document[1].level: unknown key (known: apiVersion, kind, name, url)",
    ],
  ];
  for (const [yaml, want] of cases) test(want, () => expect(errorOf(yaml)).toContain(want));
});

describe("multi-document configs", () => {
  const MULTI = [
    "version: v1alpha1\nmachine:\n  network:\n    hostname: multi\n",
    "apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: nut-client\nconfigFiles:\n  - content: MONITOR upsname@host 1 remote pass foo\n    mountPath: /usr/local/etc/nut/upsmon.conf\nenvironment:\n  - NUT_UPS=upsname\n",
    "apiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote-log\nurl: tcp://192.168.3.7:3478/\n",
    "apiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: 192.168.10.3:3247\n",
    "apiVersion: v1alpha1\nkind: WatchdogTimerConfig\ndevice: /dev/watchdog0\ntimeout: 3m0s\n",
    "apiVersion: v1alpha1\nkind: SideroLinkConfig\napiUrl: https://siderolink.api/join?token=secret\n",
    "apiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: ingress-apid\nportSelector:\n  ports: [50000, 10250-10260]\n  protocol: tcp\ningress:\n  - subnet: 192.168.0.0/16\n    except: 192.168.0.3/32\n",
    "apiVersion: v1alpha1\nkind: NetworkDefaultActionConfig\ningress: block\n",
  ].join("---\n");

  test("the v1alpha1 document and every Talos 1.7 kind, typed, in order, each with a warning", () => {
    const r = parseConfigDocuments(MULTI);
    expect(r.config.machine.network.hostname).toBe("multi");
    expect(r.documents.map((d) => [d.index, d.kind])).toEqual([
      [1, "ExtensionServiceConfig"],
      [2, "KmsgLogConfig"],
      [3, "EventSinkConfig"],
      [4, "WatchdogTimerConfig"],
      [5, "SideroLinkConfig"],
      [6, "NetworkRuleConfig"],
      [7, "NetworkDefaultActionConfig"],
    ]);
    const rule = r.documents.find((d) => d.kind === "NetworkRuleConfig");
    if (rule?.kind !== "NetworkRuleConfig") throw new Error("no rule");
    expect(rule.value.portSelector.ports).toEqual([50000, "10250-10260"]);
    expect(r.warnings).toEqual([
      `document[2] (KmsgLogConfig "remote-log"): ${NA}`,
      `document[3] (EventSinkConfig): ${NA}`,
      `document[4] (WatchdogTimerConfig): ${NA}`,
      `document[5] (SideroLinkConfig): ${NA}`,
      `document[6] (NetworkRuleConfig "ingress-apid"): ${NA}`,
      `document[7] (NetworkDefaultActionConfig): ${NA}`,
      // Applied (extension-service.ts), but this config has no service of that name.
      'document[1].name: no minos.services entry is named "nut-client": this ExtensionServiceConfig configures nothing',
    ]);
  });

  test("the v1alpha1 document may come anywhere; an empty trailing document is ignored", () => {
    const r = parseConfigDocuments("apiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: 10.0.0.1:1\n---\nversion: v1alpha1\n---\n");
    expect(r.documents).toHaveLength(1);
    expect(r.config.version).toBe("v1alpha1");
  });

  const bad: [string, string][] = [
    ["apiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: 10.0.0.1:1\n", "version: required (no v1alpha1 document)"],
    ["version: v1alpha1\n---\nversion: v1alpha1\n", "document[1]: a second v1alpha1 document (the first is document[0])"],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: a\nurl: udp://1.2.3.4:5\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: a\nurl: udp://1.2.3.4:6\n",
      'document[2]: a second KmsgLogConfig named "a" (the first is document[1])',
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha2\nkind: EventSinkConfig\nendpoint: x:1\n",
      'document[1].apiVersion: expected one of v1alpha1, got "v1alpha2"',
    ],
    ["version: v1alpha1\n---\nkind: EventSinkConfig\nendpoint: x:1\n", "document[1].apiVersion: required"],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nconfigFiles: [{ content: x }]\n", "document[1].name: required"],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: x\nconfigFiles: [{ content: x }]\n",
      "document[1].configFiles[0].mountPath: required",
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: a\nurl: http://x/\n",
      'document[1].url: "http://x/" must be tcp://host:port or udp://host:port',
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: WatchdogTimerConfig\ndevice: /dev/watchdog0\ntimeout: soon\n",
      'document[1].timeout: "soon" is not a duration',
    ],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: SideroLinkConfig\napiUrl: 5\n", "document[1].apiUrl: expected string, got number"],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: r\nportSelector: { ports: [70000], protocol: tcp }\n",
      "document[1].portSelector.ports[0]: must be at most 65535, got 70000",
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: r\nportSelector: { ports: [9-1], protocol: sctp }\n",
      'document[1].portSelector.ports[0]: "9-1" is not a port range',
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: NetworkRuleConfig\nname: r\nportSelector: { ports: [1], protocol: sctp }\n",
      'document[1].portSelector.protocol: expected one of tcp, udp, icmp, icmpv6, got "sctp"',
    ],
    [
      "version: v1alpha1\n---\napiVersion: v1alpha1\nkind: NetworkDefaultActionConfig\ningress: drop\n",
      'document[1].ingress: expected one of accept, block, got "drop"',
    ],
    ["version: v1alpha1\n---\napiVersion: v1alpha1\nkind: EventSinkConfig\nendpoint: a:1\nendpoint: b:2\n", "document[1].endpoint: duplicate key"],
    ["version: v1alpha1\n---\nmachine: [\n", "invalid YAML (document 1)"],
  ];
  for (const [yaml, want] of bad) test(want, () => expect(errorOf(yaml)).toContain(want));

  test("a CA given as real base64 PEM passes the applied check", () => {
    const r = parseConfigDocuments(`version: v1alpha1\nmachine:\n  ca:\n    crt: ${pem("CERTIFICATE")}\n    key: ${pem("PRIVATE KEY")}\n`);
    expect(r.warnings).toEqual([]);
  });
});

test("a patched worker with two more documents: applied keys typed, accepted ones warned", () => {
  const r = parseConfigDocuments(fixture("worker-patched.yaml"));
  expect(r.config.machine.network.hostname).toBe("worker-1");
  expect(r.config.machine.network.interfaces).toEqual([
    {
      interface: "eth0",
      addresses: ["10.5.0.11/24"],
      routes: [{ network: "0.0.0.0/0", gateway: "10.5.0.1" }],
      mtu: 1500,
      dhcp: false,
      dhcpOptions: { routeMetric: 1024, ipv4: true, ipv6: false },
    },
  ]);
  expect({ ...r.config.machine.sysctls }).toEqual({ "net.ipv4.ip_forward": "1", "vm.max_map_count": "262144" });
  expect({ ...r.config.machine.kubelet.extraArgs }).toEqual({ "rotate-server-certificates": "true" });
  expect(r.config.machine.kernel.modules).toEqual([{ name: "br_netfilter", parameters: [] }]);
  expect(r.config.machine.logging.destinations).toEqual([{ endpoint: "udp://10.5.0.1:5514", format: "json_lines", extraTags: {} }]);
  expect(r.config.machine.registries?.mirrors?.["docker.io"]?.endpoints).toEqual(["http://10.5.0.1:5000"]);
  expect(r.documents.map((d) => d.kind)).toEqual(["ExtensionServiceConfig", "WatchdogTimerConfig"]);
  expect(r.warnings).toEqual([
    ...warn("debug", "persist", "machine.token", "machine.certSANs"),
    ...warn("machine.kubelet.defaultRuntimeSeccompProfileEnabled", "machine.kubelet.nodeIP", "machine.kubelet.disableManifestsDirectory"),
    ...warn("machine.install.image", "machine.install.extensions", "machine.features"),
    ...warn(...["id", "secret", "network", "token", "ca", "discovery"].map((k) => `cluster.${k}`)),
    `document[2] (WatchdogTimerConfig): ${NA}`,
    'document[1].name: no minos.services entry is named "iscsid": this ExtensionServiceConfig configures nothing',
  ]);
});
