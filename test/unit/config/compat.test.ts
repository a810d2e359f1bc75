// The minos subset keeps its meaning. Written when src/config replaced init's
// own parser: for the configs init's tests use, the parser's typed value and
// init's parseConfig (now a thin wrapper of it) agree, and bad configs get
// path-named messages. The two tests that named the old parser's failures
// (a TypeError, the yaml library's duplicate-key text) now assert the new
// messages alone.
import { describe, expect, test } from "bun:test";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { DEFAULT_HOSTNAME, DEFAULT_KUBELET_IMAGE } from "../../../src/config/v1alpha1.ts";
import * as today from "../../../src/init/config/machine.ts";
import { InvalidArgumentError } from "../../../src/lib/errors.ts";
import { VALID } from "../../helpers/configs.ts";

const pem = (label: string, body: string) => Buffer.from(`-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`).toString("base64");

const GOOD: [string, string][] = [
  ["init-config VALID", VALID],
  ["the default", "version: v1alpha1\n"],
  [
    "extra services named after built-in cgroups",
    "version: v1alpha1\nminos:\n  services:\n    - id: runtime\n      command: [/bin/x]\n    - id: udevd-helper\n      command: [/bin/x]\n",
  ],
  [
    "interfaces with addresses, routes, mtu",
    "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.2.15/24, 192.168.1.2/32]\n        routes: [ { network: 0.0.0.0/0, gateway: 10.0.2.2 }, { network: 10.9.0.0/16, metric: 5 } ]\n        mtu: 1400\n      - interface: eth1\n",
  ],
  [
    "the dashboard's reader node",
    `version: v1alpha1\nmachine:\n  network:\n    hostname: reader-node\n  ca:\n    crt: ${pem("CERTIFICATE", "MIIB")}\n    key: ${pem("PRIVATE KEY", "MC4C")}\n`,
  ],
  [
    "a comment and the CA",
    `version: v1alpha1\n# the node's CA\nmachine:\n  ca:\n    crt: ${pem("CERTIFICATE", "MIIC")}\n    key: ${pem("EC PRIVATE KEY", "MHcC")}\n`,
  ],
  [
    "every service option",
    "version: v1alpha1\nminos:\n  services:\n    - id: web\n      command: [/bin/web, --port, '8080']\n      dependsOn: [containerd]\n      restart: always\n      backoff: { initialMs: 100, maxMs: 5000 }\n      stopGraceMs: 2000\n      env: { A: b }\n      console: true\n    - id: sidecar\n      command: [/bin/side]\n      dependsOn: [web]\n      restart: never\n",
  ],
  [
    "files, kernel parameters, logging tags, kubelet image",
    "version: v1alpha1\nmachine:\n  files:\n    - { path: /var/a, content: x, op: append }\n    - { path: /var/b, content: y, permissions: 0o600, op: overwrite }\n  kernel:\n    modules: [ { name: nf_conntrack, parameters: [hashsize=4096] } ]\n  logging:\n    destinations: [ { endpoint: tcp://10.0.0.1:5514, format: json_lines, extraTags: { node: n1 } } ]\n  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.31.0\n",
  ],
  ["sections present but empty", "version: v1alpha1\nmachine:\n  network: {}\n  kernel: {}\n  logging: {}\n  kubelet: {}\nminos: {}\n"],
  ["sections given as null", "version: v1alpha1\nmachine:\n  network:\n  sysctls:\n  env: ~\nminos:\n"],
];

describe("the applied subset parses to exactly today's value", () => {
  for (const [name, text] of GOOD) {
    test(name, () => {
      const before = today.parseConfig(text);
      const after = parseConfigDocuments(Buffer.from(text));
      expect(after.config as unknown).toStrictEqual(before);
      // The new config is usable wherever today's type is (checked by tsc).
      const typed = after.config as today.MachineConfig;
      expect(typed.machine.network.hostname).toBe(before.machine.network.hostname);
      expect(after.warnings).toEqual([]);
      expect(after.documents).toEqual([]);
    });
  }

  test("the same defaults", () => {
    expect(DEFAULT_HOSTNAME).toBe(today.DEFAULT_HOSTNAME);
    expect(DEFAULT_KUBELET_IMAGE).toBe(today.DEFAULT_KUBELET_IMAGE);
    expect(parseConfigDocuments("version: v1alpha1\n").config as unknown).toStrictEqual(today.defaultConfig());
  });
});

function errorLines(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    // The known-keys list grew with Talos's keys, and the problems come in Talos's key order; the format is the same.
    const [header = "", ...lines] = (e as Error).message.split("\n");
    return [header, ...lines.map((l) => l.replace(/ \(known: .*\)$/, " (known: …)")).sort()];
  }
  throw new Error("config was accepted");
}

const BAD: [string, string, string[]?][] = [
  ["a number where a string goes", "version: v1alpha1\nmachine:\n  network:\n    hostname: cmdline-node\n  sysctls:\n    foo: 1\n"],
  ["a dotted sysctl", "version: v1alpha1\nmachine:\n  sysctls:\n    net.ipv4.ip_forward: 1\n"],
  ["an unknown machine key", "version: v1alpha1\nmachine:\n  netwrok: {}\n"],
  ["an unknown key from the API test", "version: v1alpha1\nmachine:\n  colour: blue\n"],
  ["the wrong version", "version: v1alpha2\n"],
  ["empty input", ""],
  ["only a comment", "# nothing here\n"],
  ["no version", "machine: {}\n"],
  ["a module without a name", "version: v1alpha1\nmachine:\n  kernel:\n    modules:\n      - {}\n"],
  ["an invalid hostname", "version: v1alpha1\nmachine:\n  network:\n    hostname: Not_Valid\n"],
  ["an unknown dependency", "version: v1alpha1\nminos:\n  services:\n    - id: a\n      command: [/x]\n      dependsOn: [nope]\n"],
  ["sysctls not a map", "version: v1alpha1\nmachine:\n  sysctls: not-a-map\n"],
  [
    "a service reusing a built-in id, a relative command, an empty one",
    "version: v1alpha1\nminos:\n  services:\n    - { id: kubelet, command: [/x] }\n    - { id: b, command: [x] }\n    - { id: c, command: [] }\n",
  ],
  [
    "files and logging",
    "version: v1alpha1\nmachine:\n  files:\n    - { path: rel/x, content: 1, permissions: 0o17777, op: move }\n  logging:\n    destinations: [ { endpoint: http://x, format: json_lines } ]\n  ca: { crt: bm9wZQ==, key: bm9wZQ== }\n",
  ],
  [
    // `dhcp` is a Talos key now (accepted), so that one line of today's refusal is gone.
    "every bad interface value",
    "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - interface: eth0/1\n        addresses: [10.0.2.300/24, 10.0.2.15, fd00::1/64]\n        routes: [ { network: 10.0.2.1/24, gateway: 10.0.2 }, { gateway: 10.0.2.2 } ]\n        mtu: 20\n        dhcp: true\n      - interface: eth0\n      - interface: eth0\n",
    ["  machine.network.interfaces[0].dhcp: unknown key (known: …)"],
  ],
];

describe("bad configs get today's messages", () => {
  for (const [name, text, goneNow = []] of BAD) {
    test(name, () => {
      const before = errorLines(() => today.parseConfig(text)).filter((l) => !goneNow.includes(l));
      const after = errorLines(() => parseConfigDocuments(text));
      expect(after).toEqual(before);
    });
  }

  test("a service command that is not a list: a path-named error (today's parseConfig throws a TypeError here)", () => {
    const text = "version: v1alpha1\nminos:\n  services: [{ id: web, command: /bin/x }]\n";
    expect(errorLines(() => parseConfigDocuments(text))).toEqual(["invalid machine config:", "  minos.services[0].command: expected list, got string"]);
  });

  test("duplicate keys: named by path instead of the yaml library's message", () => {
    const text = 'version: v1alpha1\nmachine:\n  sysctls: { a: "1", a: "2" }\n';
    expect(errorLines(() => parseConfigDocuments(text))).toEqual(["invalid machine config:", "  machine.sysctls.a: duplicate key"]);
  });

  test("invalid YAML is still called that", () => {
    expect(errorLines(() => parseConfigDocuments("version: v1alpha1\nmachine: [\n")).join("\n")).toContain("invalid YAML");
  });
});
