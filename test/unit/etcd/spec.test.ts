// The etcd service spec: address choice from advertisedSubnets/listenSubnets,
// Talos's flags with TLS always on, extraArgs overriding, the container Talos
// runs it in, and snapshot integrity.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chooseAddresses, filterBySubnets } from "../../../src/etcd/addresses.ts";
import { EtcdMember } from "../../../src/etcd/member.ts";
import { deniedExtraArgs, ETCD_CIPHER_SUITES, etcdRunSpec } from "../../../src/etcd/service.ts";
import { etcdContainer, etcdServiceSpec } from "../../../src/init/etcd/service.ts";
import { runtimeSpec } from "../../../src/init/supervisor/oci-spec.ts";
import { snapshotProblem } from "../../../src/etcd/snapshot.ts";

describe("addresses", () => {
  const addrs = ["10.5.0.2", "192.168.1.7", "127.0.0.1", "10.6.0.9"];
  test("without subnets: every non-loopback address advertised (primary first), listening on all", () => {
    expect(chooseAddresses(addrs)).toEqual({ advertised: ["10.5.0.2", "192.168.1.7", "10.6.0.9"], listen: ["0.0.0.0"] });
  });
  test("advertisedSubnets picks, a leading ! excludes; listenSubnets narrows the listeners", () => {
    expect(chooseAddresses(addrs, ["10.0.0.0/8", "!10.6.0.0/16"], ["192.168.0.0/16"])).toEqual({ advertised: ["10.5.0.2"], listen: ["192.168.1.7"] });
    expect(filterBySubnets(addrs, ["!10.0.0.0/8"])).toEqual(["192.168.1.7", "127.0.0.1"]);
    expect(chooseAddresses(addrs, ["172.16.0.0/12"]).advertised).toEqual([]);
  });
});

describe("run spec", () => {
  const spec = etcdRunSpec({
    name: "cp-1",
    addresses: { advertised: ["10.5.0.2"], listen: ["0.0.0.0"] },
    initialCluster: [
      { name: "cp-0", peerURL: "https://10.5.0.1:2380" },
      { name: "cp-1", peerURL: "https://10.5.0.2:2380" },
    ],
    state: "existing",
    image: "gcr.io/etcd-development/etcd:v3.5.13",
    extraArgs: { "election-timeout": "5000", "listen-metrics-urls": "http://0.0.0.0:2381", "--heartbeat-interval": "500" },
  });
  const flag = (k: string) => spec.args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  test("Talos's ports, data dir, host network; peer and client TLS with client certificates required", () => {
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dataDir).toBe("/var/lib/etcd");
    expect(flag("listen-peer-urls")).toBe("https://0.0.0.0:2380");
    expect(flag("listen-client-urls")).toBe("https://0.0.0.0:2379");
    expect(flag("advertise-client-urls")).toBe("https://10.5.0.2:2379");
    expect(flag("initial-advertise-peer-urls")).toBe("https://10.5.0.2:2380");
    expect(flag("initial-cluster")).toBe("cp-0=https://10.5.0.1:2380,cp-1=https://10.5.0.2:2380");
    expect(flag("initial-cluster-state")).toBe("existing");
    expect(flag("client-cert-auth")).toBe("true");
    expect(flag("peer-client-cert-auth")).toBe("true");
    expect(flag("auto-tls")).toBe("false");
    expect(flag("cert-file")).toBe("/system/secrets/etcd/server.crt");
    expect(flag("peer-cert-file")).toBe("/system/secrets/etcd/peer.crt");
    expect(spec.mounts.map((m) => m.destination)).toEqual(["/var/lib/etcd", "/system/secrets/etcd"]);
  });
  test("extraArgs add and override flags (leading dashes optional), each flag once", () => {
    expect(flag("election-timeout")).toBe("5000");
    expect(flag("heartbeat-interval")).toBe("500");
    expect(flag("listen-metrics-urls")).toBe("http://0.0.0.0:2381");
    const names = spec.args.map((a) => a.slice(2, a.indexOf("=")));
    expect(new Set(names).size).toBe(names.length);
  });
  test("as Talos's container: /usr/local/bin/etcd of the image with the same args, host network, data rw, PKI ro, uid 60, no capabilities", () => {
    const c = etcdContainer(spec, ["HTTP_PROXY=http://proxy:3128"]);
    expect(c.image).toBe("gcr.io/etcd-development/etcd:v3.5.13");
    expect(c.namespace).toBe("system");
    expect(c.args).toEqual(["/usr/local/bin/etcd", ...spec.args]);
    expect(c.env).toEqual(["HTTP_PROXY=http://proxy:3128", `ETCD_CIPHER_SUITES=${ETCD_CIPHER_SUITES}`]);
    expect(c.mounts).toEqual([
      { type: "bind", source: "/var/lib/etcd", destination: "/var/lib/etcd", options: ["rbind", "rw"] },
      { type: "bind", source: "/system/secrets/etcd", destination: "/system/secrets/etcd", options: ["rbind", "ro"] },
    ]);
    const oci = runtimeSpec(
      c,
      { entrypoint: ["/bin/sh"], cmd: [], env: [], workingDir: "", user: "" },
      { id: "etcd", cgroupsPath: "/system/etcd", grantable: [] },
    ) as {
      process: { user: { uid: number; gid: number }; args: string[]; capabilities: { effective: string[]; bounding: string[] } };
      linux: { namespaces: Array<{ type: string }> };
    };
    expect(oci.process.user).toEqual({ uid: 60, gid: 60 });
    expect(oci.process.args[0]).toBe("/usr/local/bin/etcd");
    expect(oci.process.capabilities.effective).toEqual([]);
    expect(oci.process.capabilities.bounding).toEqual([]);
    expect(oci.linux.namespaces.map((n) => n.type)).not.toContain("network");
    expect(oci.linux.namespaces.map((n) => n.type)).toContain("pid");
  });
  test("extraArgs Talos deny-lists (identity, data, listeners, TLS) keep the service from starting, naming them; the rest are fine", () => {
    const svc = (extraArgs: Record<string, string>) =>
      etcdServiceSpec(
        new EtcdMember(
          { hostname: "n", ca: { cert: "", key: "" }, image: "x", extraArgs, advertisedSubnets: [], listenSubnets: [] },
          { addresses: () => [], findMembers: async () => ({ reason: "" }), log: () => {} },
        ),
        { image: "x", env: [], fetchImage: async () => {} },
      );
    expect(svc({ "data-dir": "/tmp/x", "--peer-cert-file": "/x", "election-timeout": "5000" }).precondition()).toBe(
      "cluster.etcd.extraArgs may not set data-dir, peer-cert-file (Talos refuses them too: minos sets them)",
    );
    expect(svc({ "election-timeout": "5000", "initial-cluster-state": "existing" }).precondition() ?? "").not.toMatch(/extraArgs/);
    expect(deniedExtraArgs({ "listen-client-urls": "x", "advertise-client-urls": "y" })).toEqual(["listen-client-urls"]);
  });
  test("listening on chosen addresses keeps loopback for minos's own client", () => {
    const s = etcdRunSpec({
      name: "n",
      addresses: { advertised: ["10.5.0.2"], listen: ["10.5.0.2"] },
      initialCluster: [{ name: "n", peerURL: "https://10.5.0.2:2380" }],
      state: "new",
      image: "x",
      extraArgs: {},
    });
    expect(s.args).toContain("--listen-client-urls=https://10.5.0.2:2379,https://127.0.0.1:2379");
  });
});

describe("snapshot integrity", () => {
  const body = Buffer.from("bolt database bytes ".repeat(100));
  const snap = Buffer.concat([body, createHash("sha256").update(body).digest()]);
  test("a whole snapshot passes; a flipped byte, a truncated one, a tiny one do not", () => {
    expect(snapshotProblem(snap)).toBeUndefined();
    const flipped = Buffer.from(snap);
    flipped[10] = flipped[10]! ^ 1;
    expect(snapshotProblem(flipped)).toMatch(/integrity check failed/);
    expect(snapshotProblem(snap.subarray(0, snap.length - 5))).toMatch(/integrity check failed/);
    expect(snapshotProblem(Buffer.alloc(10))).toMatch(/too short/);
  });
});
