// Importing an OCI image archive (an OCI image layout as a tar: oci-layout,
// index.json, blobs/<alg>/<hex>; what `ctr images export`, `skopeo copy …
// oci-archive:` and `buildah push … oci-archive:` write) into containerd, for
// nodes without a registry. The tar is read as a stream: each blob goes into
// the content store as it arrives, with the digest its path names as the
// expected digest (containerd refuses a blob whose bytes do not match it), so
// neither the archive nor a layer is ever held in memory. Then, as a pull
// does: every image the index names is unpacked on its diff-ID chain, its
// blobs get the gc.ref labels, and the image record is written last.
import { chainIDs, unpackLayer, writeBlob, type ContainerdClient, type NamespaceClient } from "../containerd/index.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { LINUX_AMD64 } from "../registry/client.ts";
import { isIndexType, parseManifest, pickPlatform, platformName, type Descriptor } from "../registry/manifest.ts";
import { parseReference } from "../registry/reference.ts";
import { diffIdsOf, processConfig, putImageRecord, readContent, toCtd, type ImageConfigDoc, type PulledImage } from "./pull.ts";
import { TarReader } from "./tar.ts";
import { randomHex } from "../lib/random.ts";

const MAX_INDEX_BYTES = 4 << 20;
const LEASE_EXPIRY_MS = 60 * 60 * 1000;
const GC_EVERY_BYTES = 4 << 20;

export interface ImportOptions {
  namespace: string;
  /** The name for an index entry that carries none (no io.containerd.image.name / org.opencontainers.image.ref.name). */
  name?: string;
  log?: (line: string) => void;
}

/** The image name of an index.json entry: containerd's full-name annotation, or the OCI ref name (a full reference or a tag for opts.name). */
function entryName(d: Descriptor, fallback: string | undefined): string {
  const full = d.annotations?.["io.containerd.image.name"];
  if (full) return parseReference(full).canonical;
  const ref = d.annotations?.["org.opencontainers.image.ref.name"];
  if (ref && /[/:]/.test(ref)) return parseReference(ref).canonical;
  if (fallback) {
    const f = parseReference(fallback);
    // A bare tag in the archive completes a name given without one.
    return ref && f.tag === "latest" && !/:[^/]*$/.test(fallback) ? parseReference(`${fallback}:${ref}`).canonical : f.canonical;
  }
  throw new InvalidArgumentError(`image archive: index entry ${d.digest} has no image name annotation; give a name`);
}

async function labelled(ns: NamespaceClient, digest: string, labels: Record<string, string>): Promise<void> {
  if (Object.keys(labels).length === 0) return;
  await ns.call("containerd.services.content.v1.Content", "Update", {
    info: { digest, labels },
    update_mask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
  });
}

/** A collection per 4 MiB streamed, as in a pull: the garbage of the transfer would otherwise lift PID 1's RSS with the archive's size. */
async function* collecting(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let since = 0;
  for await (const c of chunks) {
    since += c.byteLength;
    if (since >= GC_EVERY_BYTES) {
      since = 0;
      Bun.gc(true);
    }
    yield c;
  }
}

/** Imports every image of the archive; returns them. Throws InvalidArgumentError for a malformed archive, containerd's ApiError for a refused blob. */
export async function importArchive(ctd: ContainerdClient, tar: AsyncIterable<Uint8Array>, opts: ImportOptions): Promise<PulledImage[]> {
  const log = opts.log ?? (() => {});
  await ctd.namespaces.ensure(opts.namespace);
  const base = ctd.withNamespace(opts.namespace);
  const leaseId = `minos-import-${Date.now()}-${randomHex(6)}`;
  await base.leases.create(leaseId, { "containerd.io/gc.expire": new Date(Date.now() + LEASE_EXPIRY_MS).toISOString() });
  const ns = base.withLease(leaseId);
  try {
    const reader = new TarReader(tar);
    let index: Uint8Array | undefined;
    let blobs = 0;
    for (let e = await reader.next(); e; e = await reader.next()) {
      if (e.type !== "0" && e.type !== "\0") continue;
      if (e.name === "index.json") {
        if (e.size > MAX_INDEX_BYTES) throw new InvalidArgumentError(`image archive: index.json is ${e.size} bytes`);
        const parts: Uint8Array[] = [];
        for await (const c of reader.body()) parts.push(new Uint8Array(c));
        index = Buffer.concat(parts);
        continue;
      }
      const m = /^blobs\/(sha256)\/([a-f0-9]{64})$/.exec(e.name);
      if (!m) continue;
      const digest = `${m[1]}:${m[2]}`;
      await writeBlob(ns, `${leaseId}-${digest}`, digest, e.size, collecting(reader.body()));
      blobs++;
    }
    if (!index) throw new InvalidArgumentError("image archive: no index.json (not an OCI image layout)");
    const top = parseManifest(index, "application/vnd.oci.image.index.v1+json", "image archive index.json");
    if (top.kind !== "index") throw new InvalidArgumentError("image archive: index.json is not an image index");
    log(`image archive: ${blobs} blobs stored, ${top.manifests.length} images named`);
    const out: PulledImage[] = [];
    for (const entry of top.manifests) out.push(await importImage(ns, entry, entryName(entry, opts.name), log));
    return out;
  } finally {
    await base.leases.delete(leaseId).catch(() => {});
  }
}

async function importImage(ns: NamespaceClient, target: Descriptor, name: string, log: (l: string) => void): Promise<PulledImage> {
  let manifestDesc = target;
  if (isIndexType(target.mediaType)) {
    const idx = parseManifest(await readContent(ns, target.digest), target.mediaType, name);
    if (idx.kind !== "index") throw new InvalidArgumentError(`${name}: ${target.digest} is not an index`);
    const entry = pickPlatform(idx.manifests, LINUX_AMD64);
    if (!entry)
      throw new InvalidArgumentError(`image ${name} has no linux/amd64 manifest; it has: ${idx.manifests.map((d) => platformName(d.platform)).join(", ")}`);
    manifestDesc = entry;
    await labelled(ns, target.digest, { "containerd.io/gc.ref.content.m.0": entry.digest });
  }
  const m = parseManifest(await readContent(ns, manifestDesc.digest), manifestDesc.mediaType, name);
  if (m.kind !== "image") throw new InvalidArgumentError(`${name}: ${manifestDesc.digest} is not an image manifest`);
  const doc = JSON.parse(new TextDecoder().decode(await readContent(ns, m.config.digest))) as ImageConfigDoc;
  const diffIds = diffIdsOf(doc, m.layers.length, name);
  let parent = "";
  for (const [i, layer] of m.layers.entries()) {
    parent = (await unpackLayer(ns, { layer: toCtd(layer), parentChainId: parent, diffId: diffIds[i]! })).chainId;
  }
  const chainId = diffIds.length ? chainIDs(diffIds).at(-1)! : "";
  if (chainId) await labelled(ns, m.config.digest, { "containerd.io/gc.ref.snapshot.overlayfs": chainId });
  await labelled(ns, manifestDesc.digest, {
    "containerd.io/gc.ref.content.config": m.config.digest,
    ...Object.fromEntries(m.layers.map((l, i) => [`containerd.io/gc.ref.content.l.${i}`, l.digest])),
  });
  await putImageRecord(ns, name, target);
  log(`image ${name}: imported ${target.digest} (${m.layers.length} layers)`);
  return {
    name,
    target: { mediaType: target.mediaType, digest: target.digest, size: target.size },
    chainId,
    config: processConfig(doc),
    fetchedBytes: 0,
    existed: false,
  };
}
