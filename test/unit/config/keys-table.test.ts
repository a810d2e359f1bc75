// docs/config-keys.md is the schema's own listing, and the listing covers
// every key Talos 1.7 defines (the list below is written from Talos's
// v1alpha1_types.go YAML tags, independently of the schema).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configKeys, countKeys, keysTableMarkdown } from "../../../src/config/keys-table.ts";

const ROOT = join(import.meta.dir, "..", "..", "..");

describe("docs/config-keys.md", () => {
  test("is what the schema generates (run `bun scripts/config-keys.ts` after changing src/config)", () => {
    expect(readFileSync(join(ROOT, "docs", "config-keys.md"), "utf8")).toBe(keysTableMarkdown());
  });

  test("counts: the applied subset is exactly init's keys, the rest accepted", () => {
    const applied = configKeys()
      .filter((r) => r.state === "applied")
      .map((r) => r.path);
    expect(applied).toEqual([
      "version",
      "machine.ca",
      "machine.ca.crt",
      "machine.ca.key",
      "machine.kubelet.image",
      "machine.kubelet.extraArgs.*",
      "machine.network.hostname",
      "machine.network.interfaces[]",
      "machine.network.interfaces[].interface",
      "machine.network.interfaces[].addresses[]",
      "machine.network.interfaces[].routes[]",
      "machine.network.interfaces[].routes[].network",
      "machine.network.interfaces[].routes[].gateway",
      "machine.network.interfaces[].routes[].metric",
      "machine.network.interfaces[].mtu",
      "machine.files[]",
      "machine.files[].path",
      "machine.files[].content",
      "machine.files[].permissions",
      "machine.files[].op",
      "machine.env.*",
      "machine.sysctls.*",
      "machine.logging.destinations[]",
      "machine.logging.destinations[].endpoint",
      "machine.logging.destinations[].format",
      "machine.logging.destinations[].extraTags.*",
      "machine.kernel.modules[]",
      "machine.kernel.modules[].name",
      "machine.kernel.modules[].parameters[]",
      "minos.services[]",
      "minos.services[].id",
      "minos.services[].command[]",
      "minos.services[].dependsOn[]",
      "minos.services[].restart",
      "minos.services[].backoff",
      "minos.services[].backoff.initialMs",
      "minos.services[].backoff.maxMs",
      "minos.services[].stopGraceMs",
      "minos.services[].env.*",
      "minos.services[].console",
    ]);
    const c = countKeys();
    expect(c.applied).toBe(applied.length);
    expect(c.accepted).toBeGreaterThan(300);
  });

  test("no applied key sits under an accepted one", () => {
    const rows = configKeys();
    const accepted = rows.filter((r) => r.state === "accepted").map((r) => r.path);
    for (const r of rows.filter((r) => r.state === "applied")) {
      for (const a of accepted) expect(r.path.startsWith(`${a}.`) || r.path.startsWith(`${a}[`)).toBe(false);
    }
  });

  const TALOS_17_KEYS = [
    "debug",
    "persist",
    ...[
      "type",
      "token",
      "ca",
      "acceptedCAs[]",
      "certSANs[]",
      "controlPlane",
      "kubelet",
      "pods[].*",
      "network",
      "disks[]",
      "install",
      "files[]",
      "env.*",
      "time",
      "sysctls.*",
      "sysfs.*",
      "registries",
    ].map((k) => `machine.${k}`),
    ...["systemDiskEncryption", "features", "udev", "logging", "kernel", "seccompProfiles[]", "nodeLabels.*", "nodeTaints.*"].map((k) => `machine.${k}`),
    "machine.controlPlane.controllerManager.disabled",
    "machine.controlPlane.scheduler.disabled",
    ...[
      "image",
      "clusterDNS[]",
      "extraArgs.*",
      "extraMounts[]",
      "extraConfig.*",
      "credentialProviderConfig.*",
      "defaultRuntimeSeccompProfileEnabled",
      "registerWithFQDN",
      "nodeIP.validSubnets[]",
      "skipNodeRegistration",
      "disableManifestsDirectory",
    ].map((k) => `machine.kubelet.${k}`),
    ...["destination", "type", "source", "options[]", "uidMappings[].containerID", "uidMappings[].hostID", "uidMappings[].size", "gidMappings[].size"].map(
      (k) => `machine.kubelet.extraMounts[].${k}`,
    ),
    ...["hostname", "interfaces[]", "nameservers[]", "extraHostEntries[].ip", "extraHostEntries[].aliases[]", "disableSearchDomain"].map(
      (k) => `machine.network.${k}`,
    ),
    ...["enabled", "advertiseKubernetesNetworks", "allowDownPeerBypass", "harvestExtraEndpoints", "mtu", "filters.endpoints[]"].map(
      (k) => `machine.network.kubespan.${k}`,
    ),
    ...[
      "interface",
      "deviceSelector",
      "addresses[]",
      "cidr",
      "routes[]",
      "bond",
      "bridge",
      "vlans[]",
      "mtu",
      "dhcp",
      "ignore",
      "dummy",
      "dhcpOptions",
      "wireguard",
      "vip",
    ].map((k) => `machine.network.interfaces[].${k}`),
    ...["busPath", "hardwareAddr", "pciID", "driver", "physical"].map((k) => `machine.network.interfaces[].deviceSelector.${k}`),
    ...["network", "gateway", "source", "metric", "mtu"].map((k) => `machine.network.interfaces[].routes[].${k}`),
    ...[
      "interfaces[]",
      "deviceSelectors[]",
      "arpIPTarget[]",
      "mode",
      "xmitHashPolicy",
      "lacpRate",
      "adActorSystem",
      "arpValidate",
      "arpAllTargets",
      "primary",
      "primaryReselect",
      "failOverMac",
      "adSelect",
    ].map((k) => `machine.network.interfaces[].bond.${k}`),
    ...[
      "miimon",
      "updelay",
      "downdelay",
      "arpInterval",
      "resendIgmp",
      "minLinks",
      "lpInterval",
      "packetsPerSlave",
      "numPeerNotif",
      "tlbDynamicLb",
      "allSlavesActive",
      "useCarrier",
      "adActorSysPrio",
      "adUserPortKey",
      "peerNotifyDelay",
    ].map((k) => `machine.network.interfaces[].bond.${k}`),
    "machine.network.interfaces[].bridge.interfaces[]",
    "machine.network.interfaces[].bridge.stp.enabled",
    ...["addresses[]", "cidr", "routes[]", "dhcp", "vlanId", "mtu", "vip", "dhcpOptions"].map((k) => `machine.network.interfaces[].vlans[].${k}`),
    ...["routeMetric", "ipv4", "ipv6", "duidv6"].map((k) => `machine.network.interfaces[].dhcpOptions.${k}`),
    ...["privateKey", "listenPort", "firewallMark", "peers[].publicKey", "peers[].endpoint", "peers[].persistentKeepaliveInterval", "peers[].allowedIPs[]"].map(
      (k) => `machine.network.interfaces[].wireguard.${k}`,
    ),
    ...["ip", "equinixMetal.apiToken", "hcloud.apiToken"].map((k) => `machine.network.interfaces[].vip.${k}`),
    "machine.disks[].device",
    "machine.disks[].partitions[].size",
    "machine.disks[].partitions[].mountpoint",
    ...["disk", "diskSelector", "extraKernelArgs[]", "image", "extensions[].image", "bootloader", "wipe", "legacyBIOSSupport"].map(
      (k) => `machine.install.${k}`,
    ),
    ...["size", "name", "model", "serial", "modalias", "uuid", "wwid", "type", "busPath"].map((k) => `machine.install.diskSelector.${k}`),
    "machine.files[].content",
    "machine.files[].permissions",
    "machine.files[].path",
    "machine.files[].op",
    "machine.time.disabled",
    "machine.time.servers[]",
    "machine.time.bootTimeout",
    "machine.registries.mirrors.*.endpoints[]",
    "machine.registries.mirrors.*.overridePath",
    "machine.registries.config.*.tls.clientIdentity.crt",
    "machine.registries.config.*.tls.clientIdentity.key",
    "machine.registries.config.*.tls.ca",
    "machine.registries.config.*.tls.insecureSkipVerify",
    ...["username", "password", "auth", "identityToken"].map((k) => `machine.registries.config.*.auth.${k}`),
    ...["state", "ephemeral"].flatMap((p) =>
      [
        "provider",
        "keys[].static.passphrase",
        "keys[].nodeID",
        "keys[].kms.endpoint",
        "keys[].slot",
        "keys[].tpm.checkSecurebootStatusOnEnroll",
        "cipher",
        "keySize",
        "blockSize",
        "options[]",
      ].map((k) => `machine.systemDiskEncryption.${p}.${k}`),
    ),
    ...[
      "rbac",
      "stableHostname",
      "apidCheckExtKeyUsage",
      "diskQuotaSupport",
      "kubePrism.enabled",
      "kubePrism.port",
      "hostDNS.enabled",
      "hostDNS.forwardKubeDNSToHost",
      "hostDNS.resolveMemberNames",
    ].map((k) => `machine.features.${k}`),
    ...["enabled", "allowedRoles[]", "allowedKubernetesNamespaces[]"].map((k) => `machine.features.kubernetesTalosAPIAccess.${k}`),
    "machine.udev.rules[]",
    "machine.logging.destinations[].endpoint",
    "machine.logging.destinations[].format",
    "machine.logging.destinations[].extraTags.*",
    "machine.kernel.modules[].name",
    "machine.kernel.modules[].parameters[]",
    "machine.seccompProfiles[].name",
    "machine.seccompProfiles[].value.*",
    ...[
      "id",
      "secret",
      "controlPlane.endpoint",
      "controlPlane.localAPIServerPort",
      "clusterName",
      "network.cni.name",
      "network.cni.urls[]",
      "network.cni.flannel.extraArgs[]",
    ].map((k) => `cluster.${k}`),
    ...[
      "network.dnsDomain",
      "network.podSubnets[]",
      "network.serviceSubnets[]",
      "token",
      "aescbcEncryptionSecret",
      "secretboxEncryptionSecret",
      "ca.crt",
      "ca.key",
      "acceptedCAs[].crt",
    ].map((k) => `cluster.${k}`),
    ...["aggregatorCA.crt", "aggregatorCA.key", "serviceAccount.key"].map((k) => `cluster.${k}`),
    ...[
      "image",
      "extraArgs.*",
      "extraVolumes[].hostPath",
      "extraVolumes[].mountPath",
      "extraVolumes[].readonly",
      "env.*",
      "certSANs[]",
      "disablePodSecurityPolicy",
    ].map((k) => `cluster.apiServer.${k}`),
    ...["admissionControl[].name", "admissionControl[].configuration.*", "auditPolicy.*", "resources.requests.*", "resources.limits.*"].map(
      (k) => `cluster.apiServer.${k}`,
    ),
    ...["image", "extraArgs.*", "extraVolumes[]", "env.*", "resources"].map((k) => `cluster.controllerManager.${k}`),
    ...["disabled", "image", "mode", "extraArgs.*"].map((k) => `cluster.proxy.${k}`),
    ...["image", "extraArgs.*", "extraVolumes[]", "env.*", "resources", "config.*"].map((k) => `cluster.scheduler.${k}`),
    ...["enabled", "registries.kubernetes.disabled", "registries.service.disabled", "registries.service.endpoint"].map((k) => `cluster.discovery.${k}`),
    ...["image", "ca.crt", "ca.key", "extraArgs.*", "subnet", "advertisedSubnets[]", "listenSubnets[]"].map((k) => `cluster.etcd.${k}`),
    ...[
      "coreDNS.disabled",
      "coreDNS.image",
      "externalCloudProvider.enabled",
      "externalCloudProvider.manifests[]",
      "extraManifests[]",
      "extraManifestHeaders.*",
    ].map((k) => `cluster.${k}`),
    ...[
      "inlineManifests[].name",
      "inlineManifests[].contents",
      "adminKubeconfig.certLifetime",
      "allowSchedulingOnMasters",
      "allowSchedulingOnControlPlanes",
    ].map((k) => `cluster.${k}`),
    ...["name", "configFiles[].content", "configFiles[].mountPath", "environment[]"].map((k) => `ExtensionServiceConfig.${k}`),
    "KmsgLogConfig.name",
    "KmsgLogConfig.url",
    "EventSinkConfig.endpoint",
    "WatchdogTimerConfig.device",
    "WatchdogTimerConfig.timeout",
    "SideroLinkConfig.apiUrl",
    ...["name", "portSelector.ports[]", "portSelector.protocol", "ingress[].subnet", "ingress[].except"].map((k) => `NetworkRuleConfig.${k}`),
    "NetworkDefaultActionConfig.ingress",
  ];

  test("lists every key Talos 1.7 defines", () => {
    const listed = new Set(configKeys().map((r) => r.path));
    expect(TALOS_17_KEYS.filter((k) => !listed.has(k))).toEqual([]);
  });
});
