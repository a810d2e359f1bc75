// Machine config patches with Talos's semantics: RFC 6902 operations (each
// failure names its operation and leaves the input untouched) and strategic
// merge (maps by key, lists appended, Talos's keyed lists merged by their key,
// replaced lists replaced, `$patch: delete`), over multi-document configs.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { applyJsonPatch, JsonPatchError } from "../../../src/config/jsonpatch.ts";
import { applyPatches, loadPatch, patchSource } from "../../../src/config/patch.ts";

type Doc = Record<string, any>;
const strategic = (base: string, ...patches: string[]): Doc =>
  parse(
    applyPatches(
      base,
      patches.map((p) => loadPatch(p)),
    ),
  );
const docs = (yaml: string): Doc[] => parseAllDocuments(yaml).map((d) => d.toJS());

describe("RFC 6902", () => {
  const doc = { machine: { certSANs: ["a"], sysctls: { x: "1" } } };

  test("add, remove, replace, move, copy, test; - appends; the input is never changed", () => {
    const before = structuredClone(doc);
    const out = applyJsonPatch(doc, [
      { op: "add", path: "/machine/certSANs/-", value: "b" },
      { op: "add", path: "/machine/certSANs/0", value: "z" },
      { op: "replace", path: "/machine/sysctls/x", value: "2" },
      { op: "copy", from: "/machine/sysctls", path: "/machine/copied" },
      { op: "move", from: "/machine/copied/x", path: "/machine/moved" },
      { op: "remove", path: "/machine/copied" },
      { op: "test", path: "/machine/moved", value: "2" },
      { op: "add", path: "/machine/a~1b", value: true },
    ]);
    expect(out).toEqual({ machine: { certSANs: ["z", "a", "b"], sysctls: { x: "2" }, moved: "2", "a/b": true } });
    expect(doc).toEqual(before);
  });

  test("a failing operation names its index, op and path", () => {
    const fail = (ops: unknown[], msg: RegExp) => {
      let err: unknown;
      try {
        applyJsonPatch(doc, ops);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JsonPatchError);
      expect((err as Error).message).toMatch(msg);
    };
    fail(
      [
        { op: "add", path: "/machine/ok", value: 1 },
        { op: "test", path: "/machine/sysctls/x", value: "9" },
      ],
      /^JSON patch operation 1 \(test \/machine\/sysctls\/x\): test failed/,
    );
    fail([{ op: "remove", path: "/machine/nothing" }], /operation 0 \(remove \/machine\/nothing\): path \/machine\/nothing does not exist/);
    fail([{ op: "replace", path: "/machine/certSANs/5", value: 1 }], /index 5 is out of range/);
    fail([{ op: "add", path: "/__proto__/polluted", value: 1 }], /does not exist|not allowed/);
    fail([{ op: "frobnicate", path: "/" }], /op must be one of/);
    fail([{ op: "add", path: "/x" }], /value is missing/);
    fail([{ op: "move", from: "/machine", path: "/machine/inner" }], /into its own child/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("loading patches as talosctl takes them", () => {
  test("a list of operations (YAML or JSON) is a JSON patch; maps are strategic merge documents", () => {
    expect(loadPatch("- op: add\n  path: /machine/x\n  value: 1\n").kind).toBe("json");
    expect(loadPatch('[{"op":"remove","path":"/machine/x"}]').kind).toBe("json");
    const s = loadPatch("machine:\n  sysctls: {}\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: a\n");
    expect(s.kind).toBe("strategic");
    expect(s.kind === "strategic" && s.documents.length).toBe(2);
    expect(() => loadPatch("- op: nope\n  path: /x\n", "p.yaml")).toThrow(/^p\.yaml: JSON patch operation 0/);
    expect(() => loadPatch("just a string")).toThrow(/neither a list of JSON patch operations nor a map/);
  });

  test("@FILE, a bare file name, and inline text", () => {
    const dir = mkdtempSync(join(tmpdir(), "patch-src-"));
    try {
      writeFileSync(join(dir, "p.yaml"), "machine: {}\n");
      const read = (p: string) => readFileSync(p, "utf8");
      expect(patchSource(`@${join(dir, "p.yaml")}`, read)).toEqual({ text: "machine: {}\n", what: join(dir, "p.yaml") });
      expect(patchSource(join(dir, "p.yaml"), read).text).toBe("machine: {}\n");
      expect(patchSource("machine: {sysctls: {}}", read)).toEqual({ text: "machine: {sysctls: {}}", what: "inline patch" });
      expect(patchSource('[{"op":"remove","path":"/x"}]', read).what).toBe("inline patch");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const BASE = `version: v1alpha1
machine:
  certSANs: [a]
  kubelet:
    extraArgs:
      feature-gates: A=true
      rotate: "true"
  network:
    interfaces:
      - interface: eth0
        addresses: [10.0.0.2/24]
        vlans:
          - vlanId: 10
            mtu: 1400
      - deviceSelector: { hardwareAddr: "aa:*" }
        dhcp: true
cluster:
  network:
    podSubnets: [10.244.0.0/16]
  apiServer:
    admissionControl:
      - name: PodSecurity
        configuration: { defaults: { enforce: baseline } }
`;

describe("strategic merge", () => {
  test("maps merge by key; plain lists append; podSubnets are replaced; extraArgs values are replaced per key", () => {
    const out = strategic(
      BASE,
      "machine:\n  certSANs: [b]\n  kubelet:\n    extraArgs:\n      feature-gates: B=true\ncluster:\n  network:\n    podSubnets: [10.10.0.0/16]\n",
    );
    expect(out.machine.certSANs).toEqual(["a", "b"]);
    expect(out.machine.kubelet.extraArgs).toEqual({ "feature-gates": "B=true", rotate: "true" });
    expect(out.cluster.network.podSubnets).toEqual(["10.10.0.0/16"]);
    expect(out.version).toBe("v1alpha1");
  });

  test("interfaces merge by interface name and by deviceSelector; VLANs by vlanId; admission plugins by name", () => {
    const out = strategic(
      BASE,
      `machine:
  network:
    interfaces:
      - interface: eth0
        addresses: [10.0.0.3/24]
        mtu: 9000
        vlans:
          - vlanId: 10
            mtu: 1500
          - vlanId: 20
      - deviceSelector: { hardwareAddr: "aa:*" }
        mtu: 1280
      - interface: eth1
        dhcp: true
cluster:
  apiServer:
    admissionControl:
      - name: PodSecurity
        configuration: { defaults: { audit: restricted } }
`,
    );
    const ifs = out.machine.network.interfaces;
    expect(ifs).toHaveLength(3);
    expect(ifs[0]).toEqual({ interface: "eth0", addresses: ["10.0.0.2/24", "10.0.0.3/24"], mtu: 9000, vlans: [{ vlanId: 10, mtu: 1500 }, { vlanId: 20 }] });
    expect(ifs[1]).toEqual({ deviceSelector: { hardwareAddr: "aa:*" }, dhcp: true, mtu: 1280 });
    expect(ifs[2]).toEqual({ interface: "eth1", dhcp: true });
    expect(out.cluster.apiServer.admissionControl).toEqual([
      { name: "PodSecurity", configuration: { defaults: { enforce: "baseline", audit: "restricted" } } },
    ]);
  });

  test("$patch: delete removes a key, a list element (by its first other key) and a whole document", () => {
    const base = `${BASE}---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote\nurl: tcp://10.0.0.1:514\n`;
    const out = docs(
      applyPatches(base, [
        loadPatch(
          "machine:\n  kubelet:\n    $patch: delete\n  network:\n    interfaces:\n      - interface: eth0\n        $patch: delete\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote\n$patch: delete\n",
        ),
      ]),
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.machine.kubelet).toBeUndefined();
    expect(out[0]!.machine.network.interfaces).toEqual([{ deviceSelector: { hardwareAddr: "aa:*" }, dhcp: true }]);
  });

  test("documents of other kinds merge by apiVersion/kind/name; new ones are appended", () => {
    const base = `${BASE}---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote\nurl: tcp://10.0.0.1:514\n`;
    const out = docs(
      applyPatches(base, [
        loadPatch(
          "apiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote\nurl: tcp://10.0.0.9:514\n---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: other\nurl: udp://10.0.0.8:514\n",
        ),
      ]),
    );
    expect(out.map((d) => d.url ?? d.version)).toEqual(["v1alpha1", "tcp://10.0.0.9:514", "udp://10.0.0.8:514"]);
  });

  test("a JSON patch on a multi-document config is refused, as Talos does", () => {
    expect(() => applyPatches(`${BASE}---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: r\n`, [loadPatch("- op: remove\n  path: /machine\n")])).toThrow(
      /not supported for a multi-document/,
    );
  });

  test("patches apply in order: strategic then JSON", () => {
    const out = parse(
      applyPatches(BASE, [
        loadPatch("machine:\n  certSANs: [b]\n"),
        loadPatch("- op: test\n  path: /machine/certSANs/1\n  value: b\n- op: remove\n  path: /machine/certSANs/0\n"),
      ]),
    );
    expect(out.machine.certSANs).toEqual(["b"]);
  });
});
