// Talos's Containers, Stats, Restart and the Logs request's namespace/driver,
// through the in-process machine API over a FakeBackend with a recording
// container backend (the real one runs in test/sandbox/containers/
// containers-api.test.ts): what each call hands the backend, the reply's shape
// on the wire (a raw grpc-js client built from the descriptor set), the
// namespace/driver checks (INVALID_ARGUMENT naming the value), NOT_FOUND and
// FAILED_PRECONDITION, and minosctl's containers/stats/restart/logs -k output.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { containerNamespace, logSource } from "../../../src/api/handlers/containers.ts";
import type { ContainerBackend, ContainerInfo, ContainerLogOptions, ContainerNamespace, MachineBackend } from "../../../src/init/backend/contract.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { InvalidArgumentError, NotFoundError } from "../../../src/lib/errors.ts";
import { rawLocal, startFixture, type ApiFixture, type RawClient } from "../../helpers/fake-backend.ts";

const SYSTEM: ContainerInfo[] = [
  {
    namespace: "system",
    id: "ext",
    internalId: "ext",
    image: "registry.lan/ext:v1",
    pid: 4242,
    status: "RUNNING",
    podId: "ext",
    name: "ext",
    uid: "",
    networkNamespace: "",
  },
];
const K8S: ContainerInfo[] = [
  {
    namespace: "k8s.io",
    id: "kube-system/coredns-1",
    internalId: "aaa",
    image: "pause:3.9",
    pid: 10,
    status: "RUNNING",
    podId: "kube-system/coredns-1",
    name: "aaa",
    uid: "u-1",
    networkNamespace: "/var/run/netns/cni-1",
  },
  {
    namespace: "k8s.io",
    id: "kube-system/coredns-1:coredns",
    internalId: "bbb",
    image: "coredns:1.11",
    pid: 11,
    status: "RUNNING",
    podId: "kube-system/coredns-1",
    name: "coredns",
    uid: "u-1",
    networkNamespace: "/var/run/netns/cni-1",
  },
];

/** Records what the handlers ask; answers from the tables above. */
class RecordingContainers implements ContainerBackend {
  restarts: [ContainerNamespace, string][] = [];
  logCalls: [string, Omit<ContainerLogOptions, "signal">][] = [];
  async list(ns: ContainerNamespace) {
    return ns === "system" ? SYSTEM : K8S;
  }
  async stats(ns: ContainerNamespace) {
    return (ns === "system" ? SYSTEM : K8S).map((c) => ({
      namespace: ns,
      id: c.id,
      podId: c.podId,
      name: c.name,
      memoryUsage: 12_345_678,
      cpuUsage: 987_654_321,
    }));
  }
  async restart(ns: ContainerNamespace, id: string) {
    if (![...SYSTEM, ...K8S].some((c) => c.namespace === ns && (c.id === id || c.internalId === id)))
      throw new NotFoundError(`container "${id}" not found in namespace ${ns}`);
    this.restarts.push([ns, id]);
  }
  criLogs(id: string, o: ContainerLogOptions): AsyncIterable<string> {
    this.logCalls.push([id, { tailLines: o.tailLines, follow: o.follow }]);
    if (id !== "kube-system/coredns-1:coredns") throw new NotFoundError(`container "${id}" not found in namespace k8s.io`);
    return (async function* () {
      yield '2026-12-01T10:00:00.000000000Z stdout F [INFO] plugin/reload: Running configuration SHA512 = 1"';
      yield "2026-12-01T10:00:01.000000000Z stderr F second line";
    })();
  }
}

let f: ApiFixture;
let raw: RawClient;
let rec: RecordingContainers;
let home: string;

beforeAll(async () => {
  f = await startFixture();
  rec = new RecordingContainers();
  (f.backend as MachineBackend).containers = rec;
  raw = rawLocal(f);
  home = join(f.dir, "home");
  mkdirSync(home);
});
afterAll(async () => {
  raw.close();
  await f.close();
});

async function ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ HOME: home });
  const code = await main(["-n", `unix:${f.socketPath}`, ...args], io);
  return { code, out: io.out, err: io.err };
}

async function refused(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: grpc.ServiceError) => e,
  );
}

describe("namespace and driver checks", () => {
  test("system and k8s.io with their drivers are accepted", () => {
    expect(containerNamespace("system", "CONTAINERD")).toBe("system");
    expect(containerNamespace("k8s.io", "CONTAINERD")).toBe("k8s.io");
    expect(containerNamespace("k8s.io", "CRI")).toBe("k8s.io");
  });
  test("an empty or unknown namespace, the CRI driver outside k8s.io, an unknown driver: InvalidArgumentError naming it", () => {
    expect(() => containerNamespace("", "CONTAINERD")).toThrow(InvalidArgumentError);
    expect(() => containerNamespace("default", "CONTAINERD")).toThrow(/"default"/);
    expect(() => containerNamespace("system", "CRI")).toThrow(/CRI driver serves namespace k8s.io only/);
    expect(() => containerNamespace("system", 7 as never)).toThrow(/driver 7/);
  });
  test("Logs: system and '' are service logs, kubelet is a service log anywhere, k8s.io is the CRI's; others refused", () => {
    expect(logSource({ namespace: "system", id: "ext", driver: "CONTAINERD" })).toBe("service");
    expect(logSource({ namespace: "", id: "ext", driver: "CONTAINERD" })).toBe("service");
    expect(logSource({ namespace: "k8s.io", id: "kubelet", driver: "CRI" })).toBe("service");
    expect(logSource({ namespace: "k8s.io", id: "ns/pod:c", driver: "CRI" })).toBe("cri");
    expect(() => logSource({ namespace: "system", id: "ext", driver: "CRI" })).toThrow(InvalidArgumentError);
    expect(() => logSource({ namespace: "moby", id: "ext", driver: "CONTAINERD" })).toThrow(/"moby"/);
  });
});

describe("Containers, Stats, Restart over the wire", () => {
  test("Containers: one message naming the node, Talos's fields", async () => {
    const r = await raw.unary("Containers", { namespace: "k8s.io", driver: "CRI" });
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0].metadata.hostname).toBe("fake-node");
    expect(r.messages[0].containers[1]).toEqual({
      namespace: "k8s.io",
      id: "kube-system/coredns-1:coredns",
      image: "coredns:1.11",
      pid: 11,
      status: "RUNNING",
      pod_id: "kube-system/coredns-1",
      name: "coredns",
      network_namespace: "/var/run/netns/cni-1",
      internal_id: "bbb",
      uid: "u-1",
    });
  });

  test("Stats: bytes and nanoseconds as uint64", async () => {
    const r = await raw.unary("Stats", { namespace: "system", driver: "CONTAINERD" });
    expect(r.messages[0].stats).toEqual([{ namespace: "system", id: "ext", memory_usage: 12_345_678, cpu_usage: 987_654_321, pod_id: "ext", name: "ext" }]);
  });

  test("Restart: the backend gets the namespace and id; an unknown id is NOT_FOUND naming it", async () => {
    const r = await raw.unary("Restart", { namespace: "system", id: "ext", driver: "CONTAINERD" });
    expect(r.messages).toHaveLength(1);
    expect(rec.restarts).toEqual([["system", "ext"]]);
    const e = await refused(raw.unary("Restart", { namespace: "system", id: "nope", driver: "CONTAINERD" }));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
    expect(e.details).toContain('container "nope" not found');
    const empty = await refused(raw.unary("Restart", { namespace: "system", id: "", driver: "CONTAINERD" }));
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test("bad namespace or driver: INVALID_ARGUMENT before the backend is asked", async () => {
    const before = rec.restarts.length;
    for (const [method, req, want] of [
      ["Containers", { namespace: "", driver: "CONTAINERD" }, "namespace can't be empty"],
      ["Stats", { namespace: "default", driver: "CONTAINERD" }, '"default"'],
      ["Restart", { namespace: "system", id: "ext", driver: "CRI" }, "CRI driver serves namespace k8s.io only"],
      ["Restart", { namespace: "system", id: "ext", driver: 5 }, "driver: 5 is not a common.ContainerDriver value"],
    ] as const) {
      const e = await refused(raw.unary(method, req));
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(e.details).toContain(want);
    }
    expect(rec.restarts.length).toBe(before);
  });

  test("no containerd (no container backend): FAILED_PRECONDITION", async () => {
    (f.backend as MachineBackend).containers = undefined;
    try {
      const e = await refused(raw.unary("Containers", { namespace: "system", driver: "CONTAINERD" }));
      expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
    } finally {
      (f.backend as MachineBackend).containers = rec;
    }
  });
});

describe("Logs with namespace and driver", () => {
  test("k8s.io: the CRI log's lines with tail and follow passed on", async () => {
    const got = await raw.collect("Logs", { namespace: "k8s.io", driver: "CRI", id: "kube-system/coredns-1:coredns", tail_lines: 5, follow: false });
    expect(got.map((d) => Buffer.from(d.bytes).toString())).toEqual([
      '2026-12-01T10:00:00.000000000Z stdout F [INFO] plugin/reload: Running configuration SHA512 = 1"\n',
      "2026-12-01T10:00:01.000000000Z stderr F second line\n",
    ]);
    expect(rec.logCalls.at(-1)).toEqual(["kube-system/coredns-1:coredns", { tailLines: 5, follow: false }]);
  });
  test("system: the service's ring, as before", async () => {
    const got = await raw.collect("Logs", { namespace: "system", driver: "CONTAINERD", id: "udevd", tail_lines: -1 });
    expect(got.map((d) => Buffer.from(d.bytes).toString())).toEqual(["udevd: started\n", "udevd: ready\n"]);
  });
  test("an unknown k8s.io container is NOT_FOUND; a bad namespace INVALID_ARGUMENT", async () => {
    const nf = await refused(raw.collect("Logs", { namespace: "k8s.io", driver: "CRI", id: "x/y:z", tail_lines: -1 }));
    expect(nf.code).toBe(grpc.status.NOT_FOUND);
    expect(nf.details).toContain('"x/y:z"');
    const bad = await refused(raw.collect("Logs", { namespace: "moby", driver: "CONTAINERD", id: "udevd", tail_lines: -1 }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe("minosctl containers, stats, restart, logs -k", () => {
  test("containers: talosctl's columns; -k lists k8s.io with pod members under their pod", async () => {
    const r = await ctl("containers");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(/^NODE\s+NAMESPACE\s+ID\s+IMAGE\s+PID\s+STATUS$/);
    expect(r.out).toMatch(/fake-node\s+system\s+ext\s+registry\.lan\/ext:v1\s+4242\s+RUNNING/);
    const k = await ctl("containers", "-k");
    expect(k.out).toMatch(/k8s\.io\s+kube-system\/coredns-1\s+pause:3\.9\s+10\s+RUNNING/);
    expect(k.out).toMatch(/k8s\.io\s+└─ kube-system\/coredns-1:coredns\s+coredns:1\.11\s+11\s+RUNNING/);
  });
  test("stats: MEMORY(MB) and CPU as talosctl prints them", async () => {
    const r = await ctl("stats");
    expect(r.out.split("\n")[0]).toMatch(/^NODE\s+NAMESPACE\s+ID\s+MEMORY\(MB\)\s+CPU$/);
    expect(r.out).toMatch(/fake-node\s+system\s+ext\s+12\.35\s+987654321/);
  });
  test("restart ID; an unknown one exits 1 with NOT_FOUND in one line", async () => {
    expect((await ctl("restart", "ext")).code).toBe(0);
    expect(rec.restarts.at(-1)).toEqual(["system", "ext"]);
    expect((await ctl("restart", "-k", "kube-system/coredns-1:coredns")).code).toBe(0);
    expect(rec.restarts.at(-1)).toEqual(["k8s.io", "kube-system/coredns-1:coredns"]);
    const r = await ctl("restart", "nope");
    expect(r.code).toBe(1);
    expect(r.err).toBe('minosctl: not found: container "nope" not found in namespace system\n');
  });
  test("logs -k reads the CRI log; logs without -k the service's", async () => {
    const k = await ctl("logs", "-k", "kube-system/coredns-1:coredns", "--tail", "3");
    expect(k.code).toBe(0);
    expect(k.out).toContain("stderr F second line\n");
    expect(rec.logCalls.at(-1)).toEqual(["kube-system/coredns-1:coredns", { tailLines: 3, follow: false }]);
    expect((await ctl("logs", "udevd")).out).toBe("udevd: started\nudevd: ready\n");
  });
});
