// Pulling an image from an OCI registry into containerd, the way containerd's
// own client does it but over our two clients: resolve the reference to the
// linux/amd64 manifest, then, under a lease (so containerd's garbage
// collector cannot take a blob or snapshot before the image record refers to
// it), stream every layer into the content store with its expected digest
// and unpack it into the snapshotter on its parent chain, write config,
// manifest and index with the gc.ref labels that keep the whole graph alive,
// create (or move) the image record, and drop the lease.
//
// Nothing is buffered beyond one range of a layer: a layer goes from the
// registry's response body to containerd's Write session as it arrives (PID
// 1's memory does not grow with the image). Up to LAYER_DOWNLOADS layers
// download at once, each on its own connection to containerd; unpacking
// follows in chain order as layers arrive, and config, manifest and index are
// stored meanwhile. A blob whose bytes do not match its digest
// is refused twice over: the registry client's verifier throws at its end and
// containerd's commit checks the expected digest; the ingest is aborted and,
// since the image record is written last, nothing refers to a half-pull.
import {
  ApiError,
  DEFAULT_SNAPSHOTTER,
  chainIDs,
  unpackLayer,
  writeBlob,
  type ContainerdClient,
  type Msg,
  type NamespaceClient,
  type containerd,
} from "../containerd/index.ts";
import { Code } from "../api/status.ts";
import { LINUX_AMD64, RegistryClient, type ResolvedImage } from "../registry/client.ts";
import type { RegistriesConfig } from "../registry/config.ts";
import { ManifestError } from "../registry/errors.ts";
import { isIndexType, layerCompression, parseManifest, pickPlatform, type Descriptor } from "../registry/manifest.ts";
import { parseReference } from "../registry/reference.ts";
import { randomHex } from "../lib/random.ts";

/** Talos's containerd namespaces: system services, and the CRI's (Kubernetes) images. */
export const SYSTEM_NAMESPACE = "system";
export const CRI_NAMESPACE = "k8s.io";

/** A pull lease outlives a crashed pull by at most this long (containerd then collects what it held). */
const LEASE_EXPIRY_MS = 60 * 60 * 1000;
/**
 * Layers are fetched in ranges of this size: Bun's fetch buffers a body ahead
 * of a slower consumer without bound (the containerd upload is paced), so a
 * range is the most a pull holds in memory per layer.
 */
export const PULL_RANGE_BYTES = 4 << 20;
/** Layers fetched at once, each on its own connection to containerd (containerd's client fetches 3 at a time). */
export const LAYER_DOWNLOADS = 3;
/** Progress lines per layer: one per this many ms at most (plus the first and the last). */
const PROGRESS_LOG_MS = 1000;

export interface LayerProgress {
  image: string;
  /** 1-based layer number and how many layers the image has. */
  layer: number;
  layers: number;
  digest: string;
  received: number;
  total: number;
}

export interface PullOptions {
  /** containerd namespace ("system" or "k8s.io"). */
  namespace: string;
  snapshotter?: string;
  /** Lines for the node's log: what is fetched, progress, the result. */
  log?: (line: string) => void;
  onProgress?: (p: LayerProgress) => void;
  /** Like onProgress, at the log's rate (a layer's start, about once a second, its end): for the node's events. */
  onProgressStep?: (p: LayerProgress) => void;
  /** An image record of this name whose snapshot chain is present is used as is, without asking the registry (Talos's WithSkipIfAlreadyPulled). */
  skipIfPresent?: boolean;
}

/** What a container of the image needs: the process defaults of its config. */
export interface ImageProcessConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

export interface PulledImage {
  /** The image record's name (the normalised reference: domain/path:tag[@digest]). */
  name: string;
  /** What the record points at: the index when the registry gave one, else the manifest. */
  target: { mediaType: string; digest: string; size: number };
  /** The chain ID of the top layer: the parent of a container's snapshot. */
  chainId: string;
  config: ImageProcessConfig;
  /** Bytes fetched from the registry (0 when skipped). */
  fetchedBytes: number;
  /** The image was present already; nothing was fetched. */
  existed: boolean;
}

export interface ImageConfigDoc {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
  rootfs?: { type?: string; diff_ids?: string[] };
}

export function processConfig(doc: ImageConfigDoc): ImageProcessConfig {
  const c = doc.config ?? {};
  return { entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], env: c.Env ?? [], workingDir: c.WorkingDir ?? "", user: c.User ?? "" };
}

export function diffIdsOf(doc: ImageConfigDoc, layers: number, what: string): string[] {
  const ids = doc.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.length !== layers || !ids.every((d) => typeof d === "string" && /^sha256:[a-f0-9]{64}$/.test(d)))
    throw new ManifestError(`${what}: config's rootfs.diff_ids has ${Array.isArray(ids) ? ids.length : "no"} entries for ${layers} layers`);
  return ids;
}

export function toCtd(d: Descriptor): Msg<containerd.types.Descriptor> & { digest: string } {
  return { media_type: d.mediaType, digest: d.digest, size: d.size, annotations: d.annotations ?? {} };
}

/** Pulls `ref` into containerd. Throws InvalidReferenceError (malformed), the registry's errors, or containerd's ApiError. */
export async function pullImage(ctd: ContainerdClient, registry: RegistryClient, ref: string, opts: PullOptions): Promise<PulledImage> {
  const reference = parseReference(ref);
  const name = reference.canonical;
  const log = opts.log ?? (() => {});
  const snapshotter = opts.snapshotter ?? DEFAULT_SNAPSHOTTER;
  const ns = ctd.withNamespace(opts.namespace);
  await ctd.namespaces.ensure(opts.namespace);
  if (opts.skipIfPresent) {
    const present = await presentImage(ns, name, snapshotter).catch(() => undefined);
    if (present) return present;
  }
  const t0 = performance.now();
  const image = await registry.resolve(ref);
  const leaseId = `minos-pull-${Date.now()}-${randomHex(6)}`;
  await ns.leases.create(leaseId, { "containerd.io/gc.expire": new Date(Date.now() + LEASE_EXPIRY_MS).toISOString() });
  const leased = ns.withLease(leaseId);
  try {
    const out = await pullLeased(leased, leaseId, registry, image, name, snapshotter, log, opts.onProgress, opts.onProgressStep);
    log(`image ${name}: pulled ${out.target.digest} (${image.layers.length} layers, ${out.fetchedBytes} bytes) in ${Math.round(performance.now() - t0)} ms`);
    return out;
  } finally {
    await ns.leases.delete(leaseId).catch((e) => log(`image ${name}: deleting lease ${leaseId}: ${(e as Error).message}`));
  }
}

async function pullLeased(
  ns: NamespaceClient,
  leaseId: string,
  registry: RegistryClient,
  image: ResolvedImage,
  name: string,
  snapshotter: string,
  log: (line: string) => void,
  onProgress: PullOptions["onProgress"],
  onProgressStep: PullOptions["onProgressStep"],
): Promise<PulledImage> {
  const configBytes = await registry.readBlob(image, image.config);
  const doc = JSON.parse(new TextDecoder().decode(configBytes)) as ImageConfigDoc;
  const diffIds = diffIdsOf(doc, image.layers.length, name);
  for (const l of image.layers) {
    if (layerCompression(l.mediaType) === undefined)
      throw new ManifestError(`${name}: layer ${l.digest} has media type ${l.mediaType}, which is not a layer minos can unpack`);
  }
  const chainId = image.layers.length ? chainIDs(diffIds).at(-1)! : "";
  const layerLabels: Record<string, string> = {};
  for (const [i, layer] of image.layers.entries()) layerLabels[`containerd.io/gc.ref.content.l.${i}`] = layer.digest;
  // The config keeps the unpacked chain alive (containerd's convention), the manifest its config and layers, the index its
  // manifest. Known from the start, they are stored while the layers download (the lease holds them meanwhile).
  const configLabels: Record<string, string> = chainId ? { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: chainId } : {};
  const small = async () => {
    await writeSmall(ns, leaseId, image.config, configBytes, configLabels);
    await writeSmall(ns, leaseId, image.manifestDescriptor, image.manifest, { "containerd.io/gc.ref.content.config": image.config.digest, ...layerLabels });
    if (image.index) await writeSmall(ns, leaseId, image.target, image.index, { "containerd.io/gc.ref.content.m.0": image.manifestDescriptor.digest });
    return 0;
  };
  // Layers download side by side (as containerd's client does, LAYER_DOWNLOADS at a time), each into a
  // Write session on its own connection; unpacking follows in chain order, each layer as soon as it is
  // stored and its parent unpacked, so applying layer N overlaps fetching N+1.
  const stop = new AbortController();
  // The first failure is the one reported: the downloads it stops fail only because of it.
  let failure: unknown;
  const fail = (e: unknown) => {
    if (stop.signal.aborted) return;
    failure = e;
    stop.abort(e);
  };
  const job: LayerFetch = { ns, leaseId, registry, image, name, log, signal: stop.signal, rss: new RssGuard(), onProgress, onProgressStep };
  const stored = limited(
    LAYER_DOWNLOADS,
    stop.signal,
    image.layers.map((layer, i) => () => storeLayer(job, layer, i)),
  );
  const started = [small(), ...stored];
  for (const p of started) p.catch(fail);
  let fetched = 0;
  let parent = "";
  try {
    for (const [i, layer] of image.layers.entries()) {
      fetched += await stored[i]!;
      const t0 = performance.now();
      parent = await unpackInto(ns, layer, parent, diffIds[i]!, snapshotter);
      log(`image ${name}: layer ${i + 1}/${image.layers.length} ${layer.digest.slice(0, 19)}: unpacked in ${Math.round(performance.now() - t0)} ms`);
    }
    await started[0];
  } catch (e) {
    // The other downloads end at once; wait for them so no Write session outlives the lease.
    fail(e);
    await Promise.allSettled(started);
    throw failure;
  }
  if (job.rss.collections > 0) log(`image ${name}: ${job.rss.collections} garbage collections kept PID 1's RSS within its pull budget`);
  await putImageRecord(ns, name, image.target);
  return {
    name,
    target: { mediaType: image.target.mediaType, digest: image.target.digest, size: image.target.size },
    chainId,
    config: processConfig(doc),
    fetchedBytes: fetched,
    existed: false,
  };
}

/** Streams layer `i` from the registry into the content store (unless there already); the bytes fetched. */
/** What every layer download of one pull shares. */
interface LayerFetch {
  ns: NamespaceClient;
  leaseId: string;
  registry: RegistryClient;
  image: ResolvedImage;
  name: string;
  log: (line: string) => void;
  signal: AbortSignal;
  rss: RssGuard;
  onProgress: PullOptions["onProgress"];
  onProgressStep: PullOptions["onProgressStep"];
}

async function storeLayer(job: LayerFetch, layer: Descriptor, i: number): Promise<number> {
  const { ns, leaseId, registry, image, name, log, signal, rss, onProgress, onProgressStep } = job;
  const what = `image ${name}: layer ${i + 1}/${image.layers.length} ${layer.digest.slice(0, 19)}`;
  const exists = await ns.content.info(layer.digest).then(
    (info) => info.size === layer.size,
    () => false,
  );
  if (exists) {
    log(`${what}: in the content store already`);
    return 0;
  }
  let lastLog = 0;
  let seen = 0;
  const t0 = performance.now();
  const chunks = registry.fetchBlob(image, layer, {
    rangeBytes: PULL_RANGE_BYTES,
    signal,
    onProgress: (p) => {
      rss.fetched(p.received - seen);
      seen = p.received;
      const step = { image: name, layer: i + 1, layers: image.layers.length, digest: layer.digest, received: p.received, total: p.total };
      onProgress?.(step);
      const now = performance.now();
      if (p.received === 0 || p.received === p.total || now - lastLog >= PROGRESS_LOG_MS) {
        lastLog = now;
        log(`${what}: ${p.received}/${p.total} bytes`);
        onProgressStep?.(step);
      }
    },
  });
  // An earlier broken session under the same ref is overwritten from offset 0 by writeBlob.
  const r = await writeBlob(ns, `${leaseId}-${layer.digest}`, layer.digest, layer.size, chunks);
  log(`${what}: stored in ${Math.round(performance.now() - t0)} ms`);
  return r.existed ? 0 : r.size;
}

/**
 * Streaming leaves garbage at the rate of the transfer (response chunks,
 * WRITE frames). Left to the engine's heuristics PID 1's RSS once rose with
 * the layer size (+62 MiB for 16 MiB, +117 MiB for 96 MiB, when every byte was
 * copied twice more on its way out); a full collection per 4 MiB range kept it
 * flat but cost 20-50 ms of PID 1's time each, 200-300 ms of a 50 MiB pull.
 * Now the pull looks at RSS every CHECK_RSS_EVERY_BYTES fetched (over all its
 * layers) and collects only when RSS stands more than PULL_RSS_BUDGET_BYTES
 * above where it was when the pull began (or, after a collection, half that
 * above where the collection left it).
 */
export const PULL_RSS_BUDGET_BYTES = 32 << 20;
const CHECK_RSS_EVERY_BYTES = 4 << 20;

class RssGuard {
  private limit = process.memoryUsage.rss() + PULL_RSS_BUDGET_BYTES;
  private since = 0;
  collections = 0;

  fetched(bytes: number): void {
    this.since += bytes;
    if (this.since < CHECK_RSS_EVERY_BYTES) return;
    this.since = 0;
    if (process.memoryUsage.rss() <= this.limit) return;
    Bun.gc(true);
    this.collections++;
    // The allocator keeps what a collection freed (RSS barely drops) and reuses it: collect again only
    // if RSS grows on from here, or every later check would collect for nothing.
    this.limit = Math.max(this.limit, process.memoryUsage.rss() + PULL_RSS_BUDGET_BYTES / 2);
  }
}

/**
 * Runs `jobs` at most `n` at a time, in order; the promises settle as the
 * jobs do. Once `signal` is aborted no further job starts (its promise
 * rejects with the abort reason).
 */
function limited<T>(n: number, signal: AbortSignal, jobs: (() => Promise<T>)[]): Promise<T>[] {
  let running = 0;
  const waiting: (() => void)[] = [];
  return jobs.map(async (job) => {
    while (running >= n) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      if (signal.aborted) throw signal.reason;
      return await job();
    } finally {
      running--;
      waiting.shift()?.();
    }
  });
}

async function writeSmall(ns: NamespaceClient, leaseId: string, d: Descriptor, bytes: Uint8Array, labels: Record<string, string>): Promise<void> {
  // A write ref of this pull alone: two pulls of images sharing a blob must not wait on each other's ingest lock.
  const r = await writeBlob(ns, `${leaseId}-${d.digest}`, d.digest, d.size, [bytes], { labels });
  // A blob stored by an earlier pull keeps its labels; make sure ours are on it.
  if (r.existed && Object.keys(labels).length > 0) {
    await ns.call("containerd.services.content.v1.Content", "Update", {
      info: { digest: d.digest, labels },
      update_mask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
    });
  }
}

async function unpackInto(ns: NamespaceClient, layer: Descriptor, parent: string, diffId: string, snapshotter: string): Promise<string> {
  const r = await unpackLayer(ns, { layer: toCtd(layer), parentChainId: parent, diffId, snapshotter });
  return r.chainId;
}

export async function putImageRecord(ns: NamespaceClient, name: string, target: Descriptor): Promise<void> {
  const image = { name, labels: {}, target: toCtd(target) };
  try {
    await ns.images.create(image);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === Code.ALREADY_EXISTS)) throw e;
    await ns.images.update(image, ["target"]);
  }
}

/** Reads a small blob (manifest, config) of the content store into memory. */
export async function readContent(ns: NamespaceClient, digest: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of ns.content.read(digest)) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * An image already in the store: its record, manifest, config and every
 * snapshot of its chain present. Undefined when any part is missing.
 */
export async function presentImage(ns: NamespaceClient, name: string, snapshotter = DEFAULT_SNAPSHOTTER): Promise<PulledImage | undefined> {
  let record: containerd.services.images.v1.Image;
  try {
    record = await ns.images.get(name);
  } catch (e) {
    if (e instanceof ApiError && e.code === Code.NOT_FOUND) return undefined;
    throw e;
  }
  const target = record.target;
  if (!target) return undefined;
  let manifestDigest = target.digest;
  if (isIndexType(target.media_type)) {
    const idx = parseManifest(await readContent(ns, target.digest), target.media_type, name);
    if (idx.kind !== "index") return undefined;
    const entry = pickPlatform(idx.manifests, LINUX_AMD64);
    if (!entry) return undefined;
    manifestDigest = entry.digest;
  }
  const m = parseManifest(await readContent(ns, manifestDigest), null, name);
  if (m.kind !== "image") return undefined;
  const doc = JSON.parse(new TextDecoder().decode(await readContent(ns, m.config.digest))) as ImageConfigDoc;
  const diffIds = diffIdsOf(doc, m.layers.length, name);
  const chainId = diffIds.length ? chainIDs(diffIds).at(-1)! : "";
  if (chainId) {
    try {
      await ns.snapshots.stat(chainId, snapshotter);
    } catch {
      return undefined;
    }
  }
  return {
    name,
    target: { mediaType: target.media_type, digest: target.digest, size: Number(target.size) },
    chainId,
    config: processConfig(doc),
    fetchedBytes: 0,
    existed: true,
  };
}

export interface ListedImage {
  name: string;
  digest: string;
  /** Bytes of the target's blob plus what it refers to, as far as the store holds it (Talos reports the content size). */
  size: number;
  createdAt: Date | undefined;
}

/** The images of a namespace with their target digest and total content size. */
export async function listImages(ctd: ContainerdClient, namespace: string): Promise<ListedImage[]> {
  const ns = ctd.withNamespace(namespace);
  const infos = new Map((await ns.content.list()).map((i) => [i.digest, i] as const));
  const images = await ns.images.list();
  const sizeOf = (digest: string, seen = new Set<string>()): number => {
    if (seen.has(digest)) return 0;
    seen.add(digest);
    const info = infos.get(digest);
    if (!info) return 0;
    let total = Number(info.size);
    for (const [k, v] of Object.entries(info.labels)) if (k.startsWith("containerd.io/gc.ref.content.")) total += sizeOf(v, seen);
    return total;
  };
  return images.map((i) => ({
    name: i.name,
    digest: i.target?.digest ?? "",
    size: i.target ? sizeOf(i.target.digest) : 0,
    createdAt: i.created_at ? new Date(Number(i.created_at.seconds) * 1000 + Math.floor(i.created_at.nanos / 1e6)) : undefined,
  }));
}

/** A registry client for a machine config's `machine.registries`. */
export function registryFor(config: RegistriesConfig | undefined): RegistryClient {
  return new RegistryClient(config ?? {});
}
