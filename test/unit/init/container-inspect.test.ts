// The pieces of the container backend that need no containerd: how a container
// is named (Talos's display id), where a Kubernetes container's CRI log file
// is, what a cgroup v2 group uses (memory.current / cpu.stat, or the VmRSS of
// its processes when the memory controller is off), and a log file's lines
// with tail, follow, rotation and a character split across reads.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { criLogPath, displayOf } from "../../../src/init/backend/containers.ts";
import { cgroupOfPid, cgroupUsage } from "../../../src/init/mechanisms/cgroup-usage.ts";
import { fileLines } from "../../../src/init/mechanisms/file-lines.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `minos-inspect-${process.pid}-`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (v: unknown) => ({ type_url: "x", value: new TextEncoder().encode(JSON.stringify(v)) });

describe("naming and CRI log paths", () => {
  test("a system container is its id; a Kubernetes one is namespace/pod:container, its sandbox namespace/pod", () => {
    expect(displayOf({ id: "ext", labels: { "minos.service": "ext" } })).toEqual({ id: "ext", podId: "ext", name: "ext" });
    const pod = { "io.kubernetes.pod.name": "coredns-1", "io.kubernetes.pod.namespace": "kube-system" };
    expect(displayOf({ id: "abc", labels: pod })).toEqual({ id: "kube-system/coredns-1", podId: "kube-system/coredns-1", name: "abc" });
    expect(displayOf({ id: "def", labels: { ...pod, "io.kubernetes.container.name": "coredns" } })).toEqual({
      id: "kube-system/coredns-1:coredns",
      podId: "kube-system/coredns-1",
      name: "coredns",
    });
  });

  test("the CRI's recorded LogPath first; else the sandbox's log directory / name / restart count; else none", () => {
    const labels = { "io.kubernetes.container.name": "coredns" };
    const recorded = {
      id: "def",
      labels,
      extensions: { "io.cri-containerd.container.metadata": json({ Version: "v1", Metadata: { LogPath: "/var/log/pods/x/coredns/2.log" } }) },
    };
    expect(criLogPath(recorded, undefined, "/var/log/pods/other")).toBe("/var/log/pods/x/coredns/2.log");
    const bare = { id: "def", labels, extensions: {} };
    expect(criLogPath(bare, undefined, "/var/log/pods/kube-system_coredns-1_u1/")).toBe("/var/log/pods/kube-system_coredns-1_u1/coredns/0.log");
    expect(criLogPath(bare, { annotations: { "io.kubernetes.container.restartCount": "3" } }, "/p")).toBe("/p/coredns/3.log");
    expect(criLogPath(bare, undefined, undefined)).toBeUndefined();
    expect(criLogPath({ id: "sb", labels: {}, extensions: {} }, undefined, "/p")).toBeUndefined();
  });
});

describe("cgroup usage", () => {
  test("memory.current and cpu.stat's usage_usec (in ns) when the group has them", () => {
    const g = join(dir, "cg1", "system/extra/ext");
    mkdirSync(g, { recursive: true });
    writeFileSync(join(g, "cgroup.procs"), "");
    writeFileSync(join(g, "memory.current"), "7340032\n");
    writeFileSync(join(g, "cpu.stat"), "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
    expect(cgroupUsage("/system/extra/ext", { mountpoint: join(dir, "cg1") })).toEqual({
      memoryBytes: 7340032,
      memorySource: "memory.current",
      cpuNanos: 1_234_567_000,
    });
  });

  test("without the memory controller: the VmRSS of the group's processes, sub-groups included", () => {
    const root = join(dir, "cg2");
    const g = join(root, "svc");
    mkdirSync(join(g, "child"), { recursive: true });
    writeFileSync(join(g, "cgroup.procs"), "101\n");
    writeFileSync(join(g, "child", "cgroup.procs"), "102\n103\n");
    writeFileSync(join(g, "cpu.stat"), "usage_usec 5\n");
    const proc = join(dir, "proc");
    for (const [pid, kb] of [
      [101, 1000],
      [102, 24],
    ] as const) {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "status"), `Name:\tsh\nVmRSS:\t    ${kb} kB\nThreads:\t1\n`);
    }
    // 103 is gone: it counts nothing.
    expect(cgroupUsage("/svc", { mountpoint: root, procRoot: proc })).toEqual({ memoryBytes: 1024 * 1024, memorySource: "VmRSS", cpuNanos: 5000 });
  });

  test("a group that does not exist is undefined; our own process has a cgroup v2 path", () => {
    expect(cgroupUsage("/nope", { mountpoint: join(dir, "cg1") })).toBeUndefined();
    expect(cgroupOfPid(process.pid)).toMatch(/^\//);
    expect(cgroupOfPid(2 ** 30)).toBeUndefined();
  });
});

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe("file lines", () => {
  test("all lines, the newest N, none; a last line without a newline too", async () => {
    const p = join(dir, "a.log");
    writeFileSync(p, "one\ntwo\nthree\nfour\n");
    expect(await collect(fileLines(p))).toEqual(["one", "two", "three", "four"]);
    expect(await collect(fileLines(p, { tailLines: 2 }))).toEqual(["three", "four"]);
    expect(await collect(fileLines(p, { tailLines: 10 }))).toEqual(["one", "two", "three", "four"]);
    expect(await collect(fileLines(p, { tailLines: 0 }))).toEqual([]);
    writeFileSync(p, "one\ntwo");
    expect(await collect(fileLines(p, { tailLines: 1 }))).toEqual(["two"]);
  });

  test("the newest N of a file larger than one read, and a character split between reads", async () => {
    const p = join(dir, "big.log");
    // 3-byte characters so that some straddle the 64 KiB read boundary.
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i} ─ line`);
    writeFileSync(p, lines.join("\n") + "\n");
    expect(await collect(fileLines(p, { tailLines: 3 }))).toEqual(lines.slice(-3));
    expect(await collect(fileLines(p))).toEqual(lines);
  });

  test("follow: appended lines arrive, a rotated file is read from its start, abort ends it", async () => {
    const p = join(dir, "f.log");
    writeFileSync(p, "old\n");
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const l of fileLines(p, { tailLines: -1, follow: true, signal: ac.signal, pollMs: 20 })) got.push(l);
    })();
    const until = async (n: number) => {
      for (let i = 0; i < 200 && got.length < n; i++) await Bun.sleep(10);
    };
    await until(1);
    appendFileSync(p, "new 1\nnew");
    appendFileSync(p, " 2\n");
    await until(3);
    renameSync(p, `${p}.1`);
    // Longer than what was read of the old one: rotation is told by the inode, not the size.
    writeFileSync(p, "rotated, and longer than the old file was\n");
    await until(4);
    ac.abort();
    await done;
    expect(got).toEqual(["old", "new 1", "new 2", "rotated, and longer than the old file was"]);
  });
});
