// minos's containerd client against a real containerd (Debian 12's 1.6.20,
// private root/state/socket, own cgroup/mount/PID namespaces): every service
// the node uses, over our own .proto definitions and HTTP/2 gRPC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { randomBytes } from "node:crypto";
import { closeSync, copyFileSync, createReadStream, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  ApiError,
  ContainerdClient,
  DigestWriter,
  OCI_SPEC_TYPE_URL,
  chainID,
  sha256Digest,
  unpackJson,
  type NamespaceClient,
} from "../../../src/containerd/index.ts";
import { Code } from "../../../src/api/status.ts";
import { Daemon } from "./daemon.ts";

const NS = "minos-test";
const GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

let daemon: Daemon;
let client: ContainerdClient;
let ns: NamespaceClient;

beforeAll(async () => {
  daemon = Daemon.start();
  client = ContainerdClient.connect(daemon.socket, { timeoutMs: 30_000 });
  try {
    await client.waitReady(30_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\ncontainerd log:\n${daemon.logTail()}`);
  }
  ns = client.withNamespace(NS);
}, 60_000);

afterAll(async () => {
  client?.close();
  await daemon?.stop();
}, 30_000);

let blobLease: NamespaceClient | undefined;
/** Content nothing refers to is garbage collected at containerd's next GC: tests that read blobs back hold a lease. */
async function leasedNs(): Promise<NamespaceClient> {
  if (!blobLease) {
    await ns.leases.create("minos-test-blobs", {});
    blobLease = ns.withLease("minos-test-blobs");
  }
  return blobLease;
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return Code.OK;
}

/** A tar of `files` (path -> content or a host file to copy), as root:root, and its gzip. */
function makeLayer(name: string, files: Record<string, string | { from: string; mode: number }>): { tar: Uint8Array; gz: Uint8Array } {
  const stage = join(daemon.dir, `stage-${name}`);
  for (const [path, content] of Object.entries(files)) {
    const p = join(stage, path);
    mkdirSync(join(p, ".."), { recursive: true });
    if (typeof content === "string") writeFileSync(p, content);
    else {
      copyFileSync(content.from, p);
      spawnSync(["chmod", content.mode.toString(8), p]);
    }
  }
  const r = spawnSync(["tar", "-C", stage, "--owner=0", "--group=0", "--numeric-owner", "--sort=name", "-cf", "-", "."], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar failed: ${r.stderr.toString()}`);
  const tar = new Uint8Array(r.stdout);
  return { tar, gz: Bun.gzipSync(tar) };
}

describe("containerd client (real containerd)", () => {
  test("Version answers with containerd's 1.6/1.7 version", async () => {
    const v = await client.version();
    expect(v.version).toMatch(/^1\.[67]\./);
    expect(v.revision.length).toBeGreaterThan(0);
  });

  test("Introspection: the overlayfs snapshotter and the walking differ loaded without error; Server has a UUID", async () => {
    const plugins = await client.withNamespace("default").introspection.plugins();
    const overlay = plugins.find((p) => p.type === "io.containerd.snapshotter.v1" && p.id === "overlayfs");
    expect(overlay?.init_err).toBeNull();
    expect(overlay?.exports.root).toContain(daemon.dir);
    expect(plugins.find((p) => p.type === "io.containerd.differ.v1" && p.id === "walking")?.init_err).toBeNull();
    expect((await client.withNamespace("default").introspection.server()).uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("namespaces: create with labels, list, get; a second create is ALREADY_EXISTS", async () => {
    await client.namespaces.create(NS, { "minos.dev/owner": "test" });
    expect((await client.namespaces.list()).map((n) => n.name)).toContain(NS);
    expect((await client.namespaces.get(NS)).labels).toEqual({ "minos.dev/owner": "test" });
    expect(await codeOf(client.namespaces.create(NS))).toBe(Code.ALREADY_EXISTS);
    await client.namespaces.ensure(NS);
  });

  test("writeBlob stores a blob under its digest: Info shows it, Read returns its bytes", async () => {
    const data = Buffer.from("minos writes this blob\n".repeat(1000));
    const digest = sha256Digest(data);
    const chunks = [data.subarray(0, 100), data.subarray(100, 5000), data.subarray(5000)];
    const w = await client.writeBlob(await leasedNs(), "test-blob-ok", digest, data.length, chunks, { labels: { "minos.dev/test": "1" } });
    expect(w).toEqual({ digest, size: data.length, existed: false });
    const info = await ns.content.info(digest);
    expect(info.digest).toBe(digest);
    expect(info.size).toBe(data.length);
    expect(info.labels).toEqual({ "minos.dev/test": "1" });
    const parts: Uint8Array[] = [];
    for await (const p of ns.content.read(digest)) parts.push(p);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    // Written again: containerd already has it, nothing is rewritten.
    expect((await client.writeBlob(NS, "test-blob-again", digest, data.length, [data])).existed).toBe(true);
  });

  test("writeBlob with a wrong digest is refused by containerd's commit and leaves nothing behind", async () => {
    const data = Buffer.from("these bytes do not hash to the expected digest");
    const wrong = sha256Digest("something else");
    let err: unknown;
    try {
      await client.writeBlob(NS, "test-blob-bad", wrong, data.length, [data]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(Code.FAILED_PRECONDITION);
    expect((err as ApiError).message).toContain("digest");
    expect(await codeOf(ns.content.info(wrong))).toBe(Code.NOT_FOUND);
    expect(await codeOf(ns.content.info(sha256Digest(data)))).toBe(Code.NOT_FOUND);
    expect(await codeOf(ns.content.status("test-blob-bad"))).toBe(Code.NOT_FOUND);
    expect((await ns.content.listStatuses()).map((s) => s.ref)).not.toContain("test-blob-bad");
  });

  test("writeBlob refuses input longer than the declared size and aborts the ingest", async () => {
    const data = Buffer.from("0123456789");
    expect(await codeOf(client.writeBlob(NS, "test-blob-long", sha256Digest(data.subarray(0, 5)), 5, [data]))).toBe(Code.INVALID_ARGUMENT);
    expect(await codeOf(ns.content.status("test-blob-long"))).toBe(Code.NOT_FOUND);
  });

  test("images: create, get, list, update labels, delete", async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }));
    const digest = sha256Digest(manifest);
    await client.writeBlob(await leasedNs(), "test-manifest", digest, manifest.length, [manifest]);
    const target = { media_type: "application/vnd.oci.image.manifest.v1+json", digest, size: manifest.length };
    const created = await ns.images.create({ name: "docker.io/minos/test:1", target, labels: { a: "1" } });
    expect(created.target).toMatchObject(target);
    expect((await ns.images.get("docker.io/minos/test:1")).target?.digest).toBe(digest);
    expect((await ns.images.list()).map((i) => i.name)).toContain("docker.io/minos/test:1");
    const updated = await ns.images.update({ name: "docker.io/minos/test:1", labels: { a: "2" } }, ["labels"]);
    expect(updated.labels).toEqual({ a: "2" });
    expect(updated.target?.digest).toBe(digest);
    await ns.images.delete("docker.io/minos/test:1", true);
    expect((await ns.images.list()).map((i) => i.name)).not.toContain("docker.io/minos/test:1");
    expect(await codeOf(ns.images.get("docker.io/minos/test:1"))).toBe(Code.NOT_FOUND);
  });

  test("leases: a blob written under a lease is one of its resources; AddResource, Delete", async () => {
    const lease = await ns.leases.create("minos-test-lease", { "containerd.io/gc.expire": new Date(Date.now() + 3600_000).toISOString() });
    expect(lease.id).toBe("minos-test-lease");
    const leased = ns.withLease(lease.id);
    const data = randomBytes(4096);
    const digest = sha256Digest(data);
    await client.writeBlob(leased, "test-leased", digest, data.length, [data]);
    expect(await ns.leases.listResources(lease.id)).toContainEqual({ id: digest, type: "content" });
    await ns.leases.addResource(lease.id, { id: sha256Digest("not stored"), type: "content" });
    expect((await ns.leases.listResources(lease.id)).length).toBe(2);
    expect((await ns.leases.list()).map((l) => l.id)).toContain(lease.id);
    await ns.leases.delete(lease.id, true);
    expect((await ns.leases.list()).map((l) => l.id)).not.toContain(lease.id);
  });

  describe("layers, snapshots and containers", () => {
    let leased: NamespaceClient;
    const chain: string[] = [];

    beforeAll(async () => {
      await ns.leases.create("minos-unpack", {});
      leased = ns.withLease("minos-unpack");
    });

    test("unpackLayer applies gzip layers into overlayfs and commits them under their chain IDs", async () => {
      const layers = [
        makeLayer("base", { "bin/busybox": { from: daemon.bins.busybox, mode: 0o755 }, "hello.txt": "hello from layer 1\n" }),
        makeLayer("top", { "etc/second.txt": "second layer\n" }),
      ];
      let parent = "";
      const diffIds: string[] = [];
      for (const [i, l] of layers.entries()) {
        const digest = sha256Digest(l.gz);
        await client.writeBlob(leased, `layer-${i}`, digest, l.gz.length, [l.gz]);
        const u = await client.unpackLayer(leased, { layer: { media_type: GZIP_LAYER, digest, size: l.gz.length }, parentChainId: parent });
        expect(u.diffId).toBe(sha256Digest(l.tar));
        expect(u.existed).toBe(false);
        diffIds.push(u.diffId);
        parent = u.chainId;
        chain.push(u.chainId);
      }
      expect(chain[0]).toBe(diffIds[0]!);
      expect(chain[1]).toBe(sha256Digest(`${diffIds[0]} ${diffIds[1]}`));
      expect(chain[1]).toBe(chainID(diffIds));
      const top = await ns.snapshots.stat(chain[1]!);
      expect(top.kind).toBe("COMMITTED");
      expect(top.parent).toBe(chain[0]!);
      expect((await ns.snapshots.list()).map((s) => s.name)).toEqual(expect.arrayContaining(chain));
      // The same layer again, with its diff ID known: found, not re-applied.
      const again = await client.unpackLayer(leased, {
        layer: { media_type: GZIP_LAYER, digest: sha256Digest(layers[1]!.gz), size: layers[1]!.gz.length },
        parentChainId: chain[0]!,
        diffId: diffIds[1]!,
      });
      expect(again).toEqual({ chainId: chain[1]!, diffId: diffIds[1]!, existed: true });
      // No active extract-* snapshot is left behind.
      expect((await ns.snapshots.list()).filter((s) => s.kind === "ACTIVE").map((s) => s.name)).toEqual([]);
    });

    test("a View of the top chain mounts (in a private mount namespace) and shows both layers' files", async () => {
      const mounts = await leased.snapshots.view("minos-view", chain[1]!);
      expect(mounts.length).toBe(1);
      const m = mounts[0]!;
      const target = join(daemon.dir, "view");
      mkdirSync(target);
      const script = `mount -t "$1" -o "$2" "$3" "$4" && cat "$4/hello.txt" "$4/etc/second.txt"; rc=$?; umount "$4"; exit $rc`;
      const r = spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", m.type, m.options.join(","), m.source, target], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe("hello from layer 1\nsecond layer\n");
      expect((await ns.snapshots.mounts("minos-view"))[0]).toEqual(m);
      await ns.snapshots.remove("minos-view");
      expect(await codeOf(ns.snapshots.stat("minos-view"))).toBe(Code.NOT_FOUND);
    });

    const spec = (id: string, args: string[]) => ({
      ociVersion: "1.0.2",
      process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ["PATH=/bin"], cwd: "/", noNewPrivileges: true },
      root: { path: "rootfs", readonly: false },
      hostname: id,
      mounts: [
        { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
        { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      ],
      // No cpu/memory/pids resources: this host's cgroup2 tree has no controllers (DESIGN fact 9).
      linux: { cgroupsPath: `/${NS}/${id}`, namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }] },
    });

    test("containers: create with an OCI spec Any, get, list, update, delete", async () => {
      const s = spec("c-meta", ["/bin/busybox", "true"]);
      const c = await ns.containers.create({ id: "c-meta", spec: s, labels: { role: "test" } });
      expect(c.runtime?.name).toBe("io.containerd.runc.v2");
      const got = await ns.containers.get("c-meta");
      expect(got.spec?.type_url).toBe(OCI_SPEC_TYPE_URL);
      expect(unpackJson(got.spec)).toEqual(s);
      expect((await ns.containers.list()).map((x) => x.id)).toContain("c-meta");
      const u = await ns.containers.update({ id: "c-meta", labels: { role: "changed" } }, ["labels"]);
      expect(u.labels).toEqual({ role: "changed" });
      await ns.containers.delete("c-meta");
      expect(await codeOf(ns.containers.get("c-meta"))).toBe(Code.NOT_FOUND);
    });

    /** A container on a fresh active snapshot of the layers, and its task, stdout to a FIFO. */
    async function runTask(id: string, args: string[], withStdin = false) {
      const mounts = await leased.snapshots.prepare(`${id}-rootfs`, chain[1]!);
      await leased.containers.create({ id, spec: spec(id, args), snapshotter: "overlayfs", snapshotKey: `${id}-rootfs` });
      const read = (name: string) => {
        const fifo = join(daemon.dir, `${id}.${name}`);
        if (spawnSync(["mkfifo", fifo]).exitCode !== 0) throw new Error("mkfifo failed");
        const chunks: Buffer[] = [];
        const reader = createReadStream(fifo);
        reader.on("data", (b) => chunks.push(b as Buffer));
        const closed = new Promise<string>((r) => reader.once("close", () => r(Buffer.concat(chunks).toString())));
        return { fifo, closed, soFar: () => Buffer.concat(chunks).toString() };
      };
      const stdout = read("stdout");
      const stderr = read("stderr");
      // The stdin FIFO's write end must be open before Create: a shim that finds no
      // writer reads EOF at once. O_RDWR opens a FIFO without waiting for a reader.
      const stdin = join(daemon.dir, `${id}.stdin`);
      let stdinFd: number | undefined;
      if (withStdin) {
        if (spawnSync(["mkfifo", stdin]).exitCode !== 0) throw new Error("mkfifo failed");
        stdinFd = openSync(stdin, "r+");
      }
      const created = await ns.tasks.create(id, { stdout: stdout.fifo, stderr: stderr.fifo, rootfs: mounts, ...(withStdin ? { stdin } : {}) });
      expect(created.pid).toBeGreaterThan(0);
      return { stdout: stdout.closed, stderr: stderr.closed, stdoutSoFar: stdout.soFar, stdinFd };
    }

    async function removeTask(id: string) {
      await ns.tasks.kill(id, 9, { all: true }).catch(() => {});
      await ns.tasks.wait(id, "", 5000).catch(() => {});
      await ns.tasks.delete(id).catch(() => {});
      await ns.containers.delete(id).catch(() => {});
      await ns.snapshots.remove(`${id}-rootfs`).catch(() => {});
    }

    test("tasks: create (rootfs mounts, stdout FIFO) -> start -> wait gives the exit status; the exit event arrives", async () => {
      const events = ns.events.subscribe([`topic=="/tasks/exit",namespace=="${NS}"`]);
      const firstEvent = (async () => {
        for await (const e of events) return e;
      })();
      try {
        const io = await runTask("t-run", ["/bin/busybox", "sh", "-c", "cat /hello.txt; echo pid=$$; echo oops >&2; exit 3"]);
        const waited = ns.tasks.wait("t-run");
        expect((await ns.tasks.get("t-run")).status).toBe("CREATED");
        const pid = await ns.tasks.start("t-run");
        expect(pid).toBeGreaterThan(0);
        const w = await waited;
        expect(w.exitStatus).toBe(3);
        expect(await io.stdout).toBe("hello from layer 1\npid=1\n");
        expect(await io.stderr).toBe("oops\n");
        expect((await ns.tasks.get("t-run")).status).toBe("STOPPED");
        const del = await ns.tasks.delete("t-run");
        expect(del.exit_status).toBe(3);
        const ev = await Promise.race([firstEvent, Bun.sleep(5000).then(() => undefined)]);
        expect(ev?.topic).toBe("/tasks/exit");
        expect(ev?.namespace).toBe(NS);
        expect(ev?.type).toBe("containerd.events.TaskExit");
        expect(ev?.payload).toMatchObject({ container_id: "t-run", id: "t-run", exit_status: 3 });
      } finally {
        events.cancel();
        await removeTask("t-run");
      }
    }, 60_000);

    test("tasks: stdin from a FIFO reaches the process; CloseIO ends `cat` with status 0", async () => {
      try {
        const io = await runTask("t-cat", ["/bin/busybox", "cat"], true);
        const waited = ns.tasks.wait("t-cat");
        await ns.tasks.start("t-cat");
        writeSync(io.stdinFd!, "ping through stdin\n");
        closeSync(io.stdinFd!);
        // The shim keeps its own write end of the FIFO open (so a client may
        // reconnect): the process sees EOF only at CloseIO, sent once cat echoed.
        for (let i = 0; i < 100 && !io.stdoutSoFar().includes("\n"); i++) await Bun.sleep(50);
        await ns.tasks.closeStdin("t-cat");
        expect((await waited).exitStatus).toBe(0);
        expect(await io.stdout).toBe("ping through stdin\n");
      } finally {
        await removeTask("t-cat");
      }
    }, 60_000);

    test("tasks: Kill (SIGKILL) ends a running task; Wait reports 128+9; List shows it running before", async () => {
      try {
        await runTask("t-kill", ["/bin/busybox", "sleep", "60"]);
        const waited = ns.tasks.wait("t-kill");
        await ns.tasks.start("t-kill");
        const running = (await ns.tasks.list()).find((t) => t.id === "t-kill");
        expect(running?.status).toBe("RUNNING");
        await ns.tasks.kill("t-kill", 9);
        expect((await waited).exitStatus).toBe(137);
      } finally {
        await removeTask("t-kill");
      }
    }, 60_000);
  });

  test("parallel writeBlobs (4 x 16 MiB) all complete: none stalls on HTTP/2 flow control", async () => {
    const blobs = Array.from({ length: 4 }, () => randomBytes(16 * 1024 * 1024));
    const leased = await leasedNs();
    const done = await Promise.all(blobs.map((b, i) => client.writeBlob(leased, `par-${i}`, sha256Digest(b), b.length, [b])));
    expect(done.map((d) => d.existed)).toEqual([false, false, false, false]);
    for (const b of blobs) {
      expect((await ns.content.info(sha256Digest(b))).size).toBe(b.length);
      await ns.content.delete(sha256Digest(b));
    }
  }, 30_000);

  test("writeBlob throughput: a 50 MiB blob", async () => {
    const size = 50 * 1024 * 1024;
    const data = randomBytes(size);
    const digest = sha256Digest(data);
    // 64 KiB pieces, as a network download would hand them over.
    function* pieces() {
      for (let at = 0; at < size; at += 65536) yield data.subarray(at, at + 65536);
    }
    const t0 = performance.now();
    const w = await client.writeBlob(await leasedNs(), "test-50mib", digest, size, pieces());
    const ms = performance.now() - t0;
    expect(w.size).toBe(size);
    expect((await ns.content.info(digest)).size).toBe(size);
    console.log(`writeBlob 50 MiB: ${ms.toFixed(0)} ms, ${((size / 1048576) * (1000 / ms)).toFixed(0)} MiB/s`);
    // And back: ReadContent streams it in containerd's 1 MiB replies.
    const t1 = performance.now();
    const back = new DigestWriter();
    for await (const part of ns.content.read(digest)) back.update(part);
    const readMs = performance.now() - t1;
    expect(back.size).toBe(size);
    expect(back.digest()).toBe(digest);
    console.log(`content read 50 MiB: ${readMs.toFixed(0)} ms, ${((size / 1048576) * (1000 / readMs)).toFixed(0)} MiB/s`);
    await ns.content.delete(digest);
    expect(await codeOf(ns.content.info(digest))).toBe(Code.NOT_FOUND);
  }, 120_000);
});
