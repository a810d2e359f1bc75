// Pulling into a real containerd (Debian's 1.6, private namespaces, see
// test/sandbox/containerd/daemon.ts) from a real Distribution registry on
// loopback (HTTPS with a test CA): the image record, the content graph with
// its gc.ref labels, the unpacked snapshot chain under the right chain IDs,
// progress, a second pull that skips, and refusals that leave nothing behind.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ContainerdClient, chainIDs, type NamespaceClient } from "../../../src/containerd/index.ts";
import { listImages, pullImage, type LayerProgress } from "../../../src/images/pull.ts";
import { importArchive } from "../../../src/images/import.ts";
import { RegistryClient } from "../../../src/registry/client.ts";
import { InvalidReferenceError } from "../../../src/registry/reference.ts";
import { RegistryUnavailableError, DigestMismatchError } from "../../../src/registry/errors.ts";
import { Daemon } from "../containerd/daemon.ts";
import { blob, busyboxImages, imageFor, pushImage, pushIndex, type TestImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";
import { makeTestPKI } from "../../fixtures/registry/test-ca.ts";

const NS = "system";
let daemon: Daemon;
let ctd: ContainerdClient;
let ns: NamespaceClient;
let reg: RunningRegistry;
let registry: RegistryClient;
let imgs: ReturnType<typeof busyboxImages>;
let twoLayer: TestImage;
const servers: { stop(force?: boolean): unknown }[] = [];

/** An uncompressed tar layer with one file (a second layer on top of busybox). */
function fileLayer(name: string, content: string): ReturnType<typeof blob> {
  const dir = `${daemon.dir}/stage-${name}`;
  mkdirSync(`${dir}/etc`, { recursive: true });
  writeFileSync(`${dir}/etc/${name}`, content);
  const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", dir, "-cf", "-", "."], { stdout: "pipe" });
  return blob("application/vnd.oci.image.layer.v1.tar", new Uint8Array(r.stdout));
}

/** An image whose config names the true diff IDs (the registry fixture's imageFor uses the layer digests). */
function trueImage(arch: string, layers: ReturnType<typeof blob>[]): TestImage {
  const base = imageFor(arch, layers);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = layers.map((l) => {
    const tar = l.mediaType.endsWith("+gzip") ? Bun.gunzipSync(new Uint8Array(l.bytes)) : l.bytes;
    return `sha256:${new Bun.CryptoHasher("sha256").update(new Uint8Array(tar)).digest("hex")}`;
  });
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  return { config, layers, manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) };
}

let amd64: TestImage;

beforeAll(async () => {
  daemon = Daemon.start();
  ctd = ContainerdClient.connect(daemon.socket, { timeoutMs: 30_000 });
  await ctd.waitReady(30_000);
  ns = ctd.withNamespace(NS);
  const pki = makeTestPKI();
  reg = await startRegistry({ tls: { cert: pki.serverCert, key: pki.serverKey } });
  registry = new RegistryClient({ config: { [reg.host]: { tls: { ca: pki.caCert } } } });
  imgs = busyboxImages();
  amd64 = trueImage("amd64", [imgs.layer]);
  const push = { url: reg.url, ca: pki.caCert };
  await pushIndex(push, "test/busybox", "v1", [
    { image: amd64, os: "linux", architecture: "amd64" },
    { image: trueImage("arm64", [imgs.layer]), os: "linux", architecture: "arm64" },
  ]);
  twoLayer = trueImage("amd64", [imgs.layer, fileLayer("motd", "second layer\n")]);
  await pushImage(push, "test/two", twoLayer, "v1");
}, 120_000);

afterAll(async () => {
  for (const s of servers) s.stop(true);
  ctd?.close();
  await reg?.stop();
  await daemon?.stop();
}, 30_000);

function diffIdsOf(img: TestImage): string[] {
  return JSON.parse(new TextDecoder().decode(img.config.bytes)).rootfs.diff_ids;
}

describe("pullImage", () => {
  test("a two-layer manifest over HTTPS with a test CA: chain IDs from diff_ids, gc.ref labels, progress, no lease left", async () => {
    const progress: LayerProgress[] = [];
    const lines: string[] = [];
    const ref = `${reg.host}/test/two:v1`;
    const pulled = await pullImage(ctd, registry, ref, { namespace: NS, onProgress: (p) => progress.push(p), log: (l) => lines.push(l) });
    expect(pulled.name).toBe(ref);
    expect(pulled.existed).toBe(false);
    const chain = chainIDs(diffIdsOf(twoLayer));
    expect(pulled.chainId).toBe(chain[1]!);
    // Both chain IDs are committed snapshots; the top one's parent is the bottom one.
    const top = await ns.snapshots.stat(chain[1]!);
    expect(top.parent).toBe(chain[0]!);
    await ns.snapshots.stat(chain[0]!);
    const rec = await ns.images.get(ref);
    expect(rec.target?.digest).toBe(twoLayer.manifest.digest);
    // The gc.ref graph: manifest -> config and layers, config -> snapshot chain.
    const man = await ns.content.info(twoLayer.manifest.digest);
    expect(man.labels["containerd.io/gc.ref.content.config"]).toBe(twoLayer.config.digest);
    expect(man.labels["containerd.io/gc.ref.content.l.1"]).toBe(twoLayer.layers[1]!.digest);
    expect((await ns.content.info(twoLayer.config.digest)).labels["containerd.io/gc.ref.snapshot.overlayfs"]).toBe(chain[1]!);
    // No lease is left behind: the image's references alone keep it alive.
    expect((await ns.leases.list()).filter((l) => l.id.startsWith("minos-pull-"))).toEqual([]);
    // Progress: per layer, from 0 to its size.
    for (const [i, l] of twoLayer.layers.entries()) {
      const mine = progress.filter((p) => p.layer === i + 1);
      expect(mine[0]!.received).toBe(0);
      expect(mine.at(-1)!).toMatchObject({ received: l.size, total: l.size, layers: 2, digest: l.digest });
    }
    expect(lines.some((l) => /layer 2\/2 sha256:.*: \d+\/\d+ bytes/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/pulled sha256:[a-f0-9]{64} \(2 layers, \d+ bytes\) in \d+ ms/);
  }, 60_000);

  test("a multi-arch index: the record's target is the index, the amd64 entry's chain is unpacked", async () => {
    const ref = `${reg.host}/test/busybox:v1`;
    const pulled = await pullImage(ctd, registry, ref, { namespace: NS });
    const rec = await ns.images.get(ref);
    expect(rec.target?.media_type).toBe("application/vnd.oci.image.index.v1+json");
    expect(pulled.target.digest).toBe(rec.target!.digest);
    expect((await ns.content.info(rec.target!.digest)).labels["containerd.io/gc.ref.content.m.0"]).toBe(amd64.manifest.digest);
    expect(pulled.chainId).toBe(diffIdsOf(amd64)[0]!);
    await ns.snapshots.stat(pulled.chainId);
  }, 60_000);

  test("a second pull with skipIfPresent asks no registry; listImages reports it", async () => {
    const ref = `${reg.host}/test/two:v1`;
    const offline = new RegistryClient({ mirrors: { [reg.host]: { endpoints: ["http://127.0.0.1:9"], skipFallback: true } } });
    const again = await pullImage(ctd, offline, ref, { namespace: NS, skipIfPresent: true });
    expect(again.existed).toBe(true);
    expect(again.config.cmd).toEqual(["/bin/busybox", "sh"]);
    const list = await listImages(ctd, NS);
    const mine = list.find((i) => i.name === ref)!;
    expect(mine.digest).toBe(twoLayer.manifest.digest);
    expect(mine.size).toBe(twoLayer.manifest.size + twoLayer.config.size + twoLayer.layers.reduce((a, l) => a + l.size, 0));
  }, 30_000);

  test("a malformed reference: InvalidReferenceError naming it, nothing asked", async () => {
    const e = await pullImage(ctd, registry, "Not A/Ref::x", { namespace: NS }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(InvalidReferenceError);
    expect((e as Error).message).toContain("Not A/Ref::x");
  });

  test("404: one message with the registry's status and code", async () => {
    const e = await pullImage(ctd, registry, `${reg.host}/test/missing:v1`, { namespace: NS }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(RegistryUnavailableError);
    expect((e as Error).message).toMatch(/404.*MANIFEST_UNKNOWN|NAME_UNKNOWN/);
  });

  test("wrong layer bytes: refused, no blob of that digest and no image record stays", async () => {
    const img = twoLayer;
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const p = new URL(req.url).pathname;
        if (p.includes("/manifests/")) return new Response(img.manifest.bytes, { headers: { "Content-Type": img.manifest.mediaType } });
        if (p.endsWith(`/blobs/${img.config.digest}`)) return new Response(img.config.bytes);
        if (p.endsWith(`/blobs/${img.layers[0]!.digest}`)) return new Response(img.layers[0]!.bytes);
        const bad = img.layers[1]!;
        if (p.endsWith(`/blobs/${bad.digest}`)) {
          const b = new Uint8Array(bad.bytes);
          b[b.length - 1]! ^= 0xff;
          return new Response(b);
        }
        return new Response("not found", { status: 404 });
      },
    });
    servers.push(srv);
    const host = `127.0.0.1:${srv.port}`;
    const bad = new RegistryClient({ mirrors: { [host]: { endpoints: [`http://${host}`], skipFallback: true } } });
    // A fresh namespace: the good pull above stored the same blobs in "system".
    const e = await pullImage(ctd, bad, `${host}/test/two:v1`, { namespace: "mismatch" }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(DigestMismatchError);
    const other = ctd.withNamespace("mismatch");
    expect((await other.content.list()).map((c) => c.digest)).not.toContain(img.layers[1]!.digest);
    expect(await other.content.listStatuses()).toEqual([]);
    expect(await other.images.list()).toEqual([]);
    expect(await other.leases.list()).toEqual([]);
  }, 30_000);
});

describe("large images: memory and time, minos vs ctr images pull", () => {
  test("RSS does not grow with the layer size (16 vs 64 MiB: the difference stays far below 48 MiB); both pulls timed", async () => {
    const plain = await startRegistry();
    try {
      const client = new RegistryClient({ mirrors: { [plain.host]: { endpoints: [plain.url] } } });
      const bigImage = async (mib: number, name: string) => {
        // Random bytes do not compress: the layer's wire size is its size.
        const dir = `${daemon.dir}/stage-${name}`;
        mkdirSync(dir, { recursive: true });
        writeFileSync(`${dir}/blob`, randomBytes(mib << 20));
        const tar = new Uint8Array(Bun.spawnSync(["tar", "--owner=0", "--group=0", "--mtime=@0", "-C", dir, "-cf", "-", "."], { stdout: "pipe" }).stdout);
        rmSync(dir, { recursive: true, force: true });
        const big = trueImage("amd64", [blob("application/vnd.oci.image.layer.v1.tar", tar), fileLayer(`top-${name}`, "top\n")]);
        await pushImage({ url: plain.url }, `test/${name}`, big, "v1");
        return { big, ref: `${plain.host}/test/${name}:v1` };
      };
      const pullBig = async (mib: number) => {
        const { big, ref } = await bigImage(mib, `big${mib}`);
        // ctr pulls an image of its own: containerd shares content between namespaces, so ctr pulling
        // minos's image would find every blob present and transfer nothing.
        const theirs = await bigImage(mib, `big${mib}-ctr`);
        Bun.gc(true);
        const before = process.memoryUsage.rss();
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
        const t0 = performance.now();
        await pullImage(ctd, client, ref, { namespace: "bench-minos" });
        const minosMs = performance.now() - t0;
        clearInterval(sampler);
        const top = chainIDs(diffIdsOf(big))[1]!;
        expect((await ctd.withNamespace("bench-minos").snapshots.stat(top)).name).toBe(top);
        const t1 = performance.now();
        const r = Bun.spawnSync([`${daemon.bins.pathDirs[0]}/ctr`, "-a", daemon.socket, "-n", "bench-ctr", "images", "pull", "--plain-http", theirs.ref], {
          stdout: "pipe",
          stderr: "pipe",
        });
        const ctrMs = performance.now() - t1;
        expect(r.exitCode).toBe(0);
        const grew = (peak - before) / (1 << 20);
        console.log(
          `pull ${mib} MiB layer: minos ${minosMs.toFixed(0)} ms, ctr images pull ${ctrMs.toFixed(0)} ms (ratio ${(minosMs / ctrMs).toFixed(2)}); RSS +${grew.toFixed(1)} MiB`,
        );
        return grew;
      };
      const small = await pullBig(16);
      const large = await pullBig(64);
      expect(large - small).toBeLessThan(24);
    } finally {
      await plain.stop();
    }
  }, 180_000);
});

describe("importArchive (OCI image layout tar)", () => {
  /** An OCI layout of `img` (index entry tagged `tag`), tarred; `corrupt` flips a byte of that blob's file. */
  function layoutTar(img: TestImage, tag: string, corrupt?: string): string {
    const dir = `${daemon.dir}/layout-${tag}-${corrupt ? "bad" : "ok"}`;
    mkdirSync(`${dir}/blobs/sha256`, { recursive: true });
    writeFileSync(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    for (const b of [img.config, img.manifest, ...img.layers]) {
      const bytes = new Uint8Array(b.bytes);
      if (b.digest === corrupt) bytes[bytes.length - 1]! ^= 0xff;
      writeFileSync(`${dir}/blobs/sha256/${b.digest.slice(7)}`, bytes);
    }
    const index = {
      schemaVersion: 2,
      manifests: [
        { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size, annotations: { "org.opencontainers.image.ref.name": tag } },
      ],
    };
    writeFileSync(`${dir}/index.json`, JSON.stringify(index));
    const out = `${dir}.tar`;
    const r = Bun.spawnSync(["tar", "-C", dir, "-cf", out, "."], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return out;
  }

  test("a layout tar streamed in: blobs stored by their path's digest, layers unpacked on the chain, the record named", async () => {
    const file = layoutTar(twoLayer, "v7");
    const [img] = await importArchive(ctd, Bun.file(file).stream(), { namespace: "imported", name: "example.com/test/imported" });
    expect(img!.name).toBe("example.com/test/imported:v7");
    const imp = ctd.withNamespace("imported");
    expect((await imp.images.get("example.com/test/imported:v7")).target?.digest).toBe(twoLayer.manifest.digest);
    const chain = chainIDs(diffIdsOf(twoLayer));
    expect((await imp.snapshots.stat(chain[1]!)).parent).toBe(chain[0]!);
    expect((await imp.content.info(twoLayer.manifest.digest)).labels["containerd.io/gc.ref.content.config"]).toBe(twoLayer.config.digest);
    expect((await imp.leases.list()).filter((l) => l.id.startsWith("minos-import-"))).toEqual([]);
  }, 60_000);

  test("what `ctr images export` writes imports (containerd's name annotation)", async () => {
    const file = `${daemon.dir}/ctr-export.tar`;
    const ref = `${reg.host}/test/two:v1`;
    const r = Bun.spawnSync([`${daemon.bins.pathDirs[0]}/ctr`, "-a", daemon.socket, "-n", NS, "images", "export", file, ref], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const [img] = await importArchive(ctd, Bun.file(file).stream(), { namespace: "from-ctr" });
    expect(img!.name).toBe(ref);
    await ctd.withNamespace("from-ctr").snapshots.stat(img!.chainId);
  }, 60_000);

  test("a blob whose bytes do not match its path's digest: refused, no image record", async () => {
    const file = layoutTar(twoLayer, "bad", twoLayer.layers[1]!.digest);
    const e = await importArchive(ctd, Bun.file(file).stream(), { namespace: "imported-bad", name: "example.com/test/bad" }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/unexpected commit digest|digest/);
    expect(await ctd.withNamespace("imported-bad").images.list()).toEqual([]);
  }, 60_000);
});
