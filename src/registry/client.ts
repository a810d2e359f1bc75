// The OCI distribution client: a reference becomes the manifest for our
// platform (through an index or manifest list when the registry has one),
// and blobs arrive as verified streams. Endpoints come from the machine
// config's mirrors, tried in order, then the registry itself.
//
// Only what a pull needs: GET /v2/<name>/manifests/<ref> and
// GET /v2/<name>/blobs/<digest> (OCI distribution spec, "Pull").
//
// TLS: Bun's fetch takes `tls: { ca, cert, key, rejectUnauthorized }` per
// request. Checked in a `bun build --compile` binary (Bun 1.4.5) against a
// Distribution 2.8 registry on 127.0.0.1 with a certificate from a test CA:
// with the CA the pull succeeds, without it the request fails with
// UNABLE_TO_VERIFY_LEAF_SIGNATURE, with rejectUnauthorized:false it succeeds
// (test/sandbox/registry/compiled-tls.test.ts keeps this true).

import { EndpointSession } from "./transport.ts";
import { endpointsFor, type RegistriesConfig } from "./config.ts";
import { DigestMismatchError, ManifestError, PlatformNotFoundError, RegistryError, RegistryUnavailableError } from "./errors.ts";
import { MANIFEST_ACCEPT, parseManifest, pickPlatform, platformName, type Descriptor, type Platform } from "./manifest.ts";
import { manifestReference, parseReference, type ImageReference } from "./reference.ts";
import { pullScope } from "./auth.ts";
import { digestLike, Verifier } from "./verify.ts";

/** A manifest larger than this is refused (containerd's limit too): it is held in memory. */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** A blob body that stalls this long is abandoned. */
export const BLOB_IDLE_TIMEOUT_MS = 60_000;

export const LINUX_AMD64: Platform = { os: "linux", architecture: "amd64" };

export interface ResolvedImage {
  readonly reference: ImageReference;
  /** What the reference names: the index/list when there is one, else the manifest. containerd's image target. */
  readonly target: Descriptor;
  /** The index or manifest list bytes, when the reference named one. */
  readonly index?: Uint8Array;
  /** The platform's manifest: its descriptor (with `platform` when it came from an index) and bytes. */
  readonly manifestDescriptor: Descriptor;
  readonly manifest: Uint8Array;
  readonly config: Descriptor;
  /** In order, base layer first; mediaType says gzip/zstd/uncompressed (see layerCompression). */
  readonly layers: Descriptor[];
  /** host[:port] of the endpoint that served the manifest; blobs are asked there first. */
  readonly servedBy: string;
}

export interface BlobProgress {
  digest: string;
  received: number;
  total: number;
}

export interface FetchBlobOptions {
  onProgress?: (p: BlobProgress) => void;
  signal?: AbortSignal;
  idleTimeoutMs?: number;
  /**
   * Fetch the blob in HTTP Range requests of at most this many bytes. Bun's
   * fetch reads a response body ahead of its consumer without bound, so a
   * consumer slower than the network (a paced upload into containerd) would
   * otherwise see the whole blob buffered in memory; a range bounds that to
   * one range. An endpoint that ignores Range (200 to the first request) is
   * streamed whole, as without this option.
   */
  rangeBytes?: number;
}

export interface ClientOptions {
  platform?: Platform;
}

/** Holds the registry config and the per-endpoint sessions (tokens live there between calls). */
export class RegistryClient {
  private readonly sessions = new Map<string, EndpointSession>();
  private readonly platform: Platform;

  constructor(
    private readonly config: RegistriesConfig = {},
    opts: ClientOptions = {},
  ) {
    this.platform = opts.platform ?? LINUX_AMD64;
  }

  /**
   * Resolves `ref` to the manifest for this client's platform. Each endpoint
   * is tried in order; one that is down, lacks the image, refuses us or
   * serves bytes that do not match their digest passes the turn to the next.
   * Throws InvalidReferenceError, PlatformNotFoundError, ManifestError, or
   * RegistryUnavailableError listing every endpoint's failure.
   */
  async resolve(ref: string): Promise<ResolvedImage> {
    const reference = parseReference(ref);
    const attempts: RegistryError[] = [];
    for (const session of this.sessionsFor(reference)) {
      try {
        return await this.resolveAt(session, reference);
      } catch (e) {
        if (e instanceof RegistryError) attempts.push(e);
        else if (e instanceof DigestMismatchError) attempts.push(new RegistryError(e.message, session.host, 200, "DIGEST_INVALID"));
        else throw e;
      }
    }
    throw new RegistryUnavailableError(`pull ${reference.canonical}`, attempts);
  }

  /**
   * What `ref` names now, without downloading it: a HEAD on the manifest
   * (Docker-Content-Digest, Content-Type, Content-Length), so a caller can
   * tell whether a tag moved. Registries that send no digest header get a GET
   * and the digest is computed. Endpoints are tried as in resolve().
   */
  async head(ref: string): Promise<Descriptor & { servedBy: string }> {
    const reference = parseReference(ref);
    const attempts: RegistryError[] = [];
    for (const session of this.sessionsFor(reference)) {
      try {
        const path = `/${reference.path}/manifests/${manifestReference(reference)}`;
        const res = await session.send("HEAD", path, { accept: MANIFEST_ACCEPT, scope: pullScope(reference.path) });
        const digest = res.headers.get("docker-content-digest");
        const size = Number(res.headers.get("content-length") ?? "NaN");
        const mediaType = res.headers.get("content-type")?.split(";")[0]?.trim();
        if (digest !== null && /^sha(256|512):[a-f0-9]+$/.test(digest) && Number.isSafeInteger(size) && mediaType) {
          if (reference.digest !== undefined && digest !== reference.digest)
            throw new DigestMismatchError(session.host, { digest: reference.digest, size }, { digest, size });
          return { mediaType, digest, size, servedBy: session.host };
        }
        const got = await this.getManifest(session, reference, manifestReference(reference), reference.digest);
        const parsed = parseManifest(got.bytes, got.contentType, `${reference.canonical} from ${session.host}`);
        return { mediaType: parsed.mediaType, digest: got.digest, size: got.bytes.byteLength, servedBy: session.host };
      } catch (e) {
        if (e instanceof RegistryError) attempts.push(e);
        else if (e instanceof DigestMismatchError) attempts.push(new RegistryError(e.message, session.host, 200, "DIGEST_INVALID"));
        else throw e;
      }
    }
    throw new RegistryUnavailableError(`head ${reference.canonical}`, attempts);
  }

  /**
   * The blob's bytes as they arrive, verified against `desc`: after the last
   * chunk the iterator throws DigestMismatchError if the bytes were wrong, so
   * a consumer that wrote the chunks must treat the blob as committed only
   * when iteration completes without error. Endpoints are tried in order
   * (the one that served the manifest first) until one starts sending.
   */
  async *fetchBlob(image: ResolvedImage, desc: Descriptor, opts: FetchBlobOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const sessions = this.sessionsFor(image.reference);
    sessions.sort((a, b) => Number(b.host === image.servedBy) - Number(a.host === image.servedBy));
    const path = `/${image.reference.path}/blobs/${desc.digest}`;
    const idleMs = opts.idleTimeoutMs ?? BLOB_IDLE_TIMEOUT_MS;
    const attempts: RegistryError[] = [];
    const abort = new AbortController();
    const signal = opts.signal !== undefined ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;

    const ranged = opts.rangeBytes !== undefined && opts.rangeBytes > 0 && desc.size > opts.rangeBytes;
    const rangeFrom = (from: number) => `bytes=${from}-${Math.min(desc.size, from + opts.rangeBytes!) - 1}`;
    let res: Response | undefined;
    let host = "";
    let session: EndpointSession | undefined;
    for (const s of sessions) {
      try {
        res = await s.send("GET", path, { scope: pullScope(image.reference.path), signal, ...(ranged ? { range: rangeFrom(0) } : {}) });
        host = s.host;
        session = s;
        break;
      } catch (e) {
        if (e instanceof RegistryError) attempts.push(e);
        else throw e;
      }
    }
    if (res === undefined) throw new RegistryUnavailableError(`blob ${desc.digest} of ${image.reference.canonical}`, attempts);
    if (res.body === null) throw new RegistryError(`registry ${host}: GET ${path}: empty body`, host, res.status);

    const verify = new Verifier(host, desc);
    // Ranges only when the endpoint honoured the first one (206); otherwise the one body is the whole blob.
    const byRanges = ranged && res.status === 206;
    let reader = res.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(new Error(`registry ${host}: blob ${desc.digest}: no data for ${idleMs / 1000} s`)), idleMs);
    };
    try {
      opts.onProgress?.({ digest: desc.digest, received: 0, total: desc.size });
      for (;;) {
        arm();
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (e) {
          const why = abort.signal.aborted ? String((abort.signal.reason as Error).message) : (e as Error).message;
          throw new RegistryError(`registry ${host}: blob ${desc.digest}: transfer broke off after ${verify.received} of ${desc.size} bytes: ${why}`, host, 0);
        }
        if (step.done) {
          if (!byRanges || verify.received >= desc.size) break;
          const next = await session!.send("GET", path, { scope: pullScope(image.reference.path), signal, range: rangeFrom(verify.received) });
          if (next.status !== 206 || next.body === null)
            throw new RegistryError(
              `registry ${host}: blob ${desc.digest}: answered ${next.status} to a range request at byte ${verify.received}`,
              host,
              next.status,
            );
          reader = next.body.getReader();
          continue;
        }
        verify.update(step.value);
        opts.onProgress?.({ digest: desc.digest, received: verify.received, total: desc.size });
        yield step.value;
      }
      verify.finish();
    } finally {
      clearTimeout(timer);
      // Stops the download when the consumer breaks off early or verification failed mid-way.
      reader.cancel().catch(() => {});
    }
  }

  /** A small blob (an image config) in memory, verified. Refuses anything above `limit` bytes. */
  async readBlob(image: ResolvedImage, desc: Descriptor, limit = MAX_MANIFEST_BYTES): Promise<Uint8Array> {
    if (desc.size > limit) throw new ManifestError(`blob ${desc.digest} is ${desc.size} bytes; only blobs up to ${limit} are read into memory`);
    const out = new Uint8Array(desc.size);
    let at = 0;
    for await (const chunk of this.fetchBlob(image, desc)) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  private sessionsFor(ref: ImageReference): EndpointSession[] {
    return endpointsFor(ref.domain, this.config).map((ep) => {
      const key = `${ep.api}`;
      let s = this.sessions.get(key);
      if (s === undefined) {
        s = new EndpointSession(ep);
        this.sessions.set(key, s);
      }
      return s;
    });
  }

  private async resolveAt(session: EndpointSession, reference: ImageReference): Promise<ResolvedImage> {
    const wanted = manifestReference(reference);
    const top = await this.getManifest(session, reference, wanted, reference.digest);
    const parsed = parseManifest(top.bytes, top.contentType, `${reference.canonical} from ${session.host}`);
    const target: Descriptor = { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.byteLength };
    const base = { reference, target, servedBy: session.host };
    if (parsed.kind === "image") {
      return { ...base, manifestDescriptor: target, manifest: top.bytes, config: parsed.config, layers: parsed.layers };
    }
    const entry = pickPlatform(parsed.manifests, this.platform);
    if (entry === undefined) {
      throw new PlatformNotFoundError(reference.canonical, platformName(this.platform), [...new Set(parsed.manifests.map((d) => platformName(d.platform)))]);
    }
    const child = await this.getManifest(session, reference, entry.digest, entry.digest, entry.size);
    const m = parseManifest(child.bytes, child.contentType, `${reference.canonical} (${platformName(entry.platform)}) from ${session.host}`);
    if (m.kind !== "image")
      throw new ManifestError(`${reference.canonical}: the ${platformName(entry.platform)} entry ${entry.digest} is an index, not an image manifest`);
    return { ...base, index: top.bytes, manifestDescriptor: entry, manifest: child.bytes, config: m.config, layers: m.layers };
  }

  /** GETs one manifest, capped in size, and checks it against the digest (and size) we asked for. */
  private async getManifest(
    session: EndpointSession,
    reference: ImageReference,
    ref: string,
    digest?: string,
    size?: number,
  ): Promise<{ bytes: Uint8Array; contentType: string | null; digest: string }> {
    const path = `/${reference.path}/manifests/${ref}`;
    const res = await session.send("GET", path, { accept: MANIFEST_ACCEPT, scope: pullScope(reference.path) });
    const declared = Number(res.headers.get("content-length") ?? "NaN");
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body?.cancel();
      throw new ManifestError(`${reference.canonical}: manifest from ${session.host} is ${declared} bytes, more than ${MAX_MANIFEST_BYTES}`);
    }
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, `${reference.canonical}: manifest from ${session.host}`);
    const contentType = res.headers.get("content-type");
    const header = res.headers.get("docker-content-digest");
    const actual = digestLike(digest ?? header ?? "sha256:", bytes);
    const expected = digest ?? (header !== null && /^sha(256|512):/.test(header) ? header : undefined);
    if (expected !== undefined && actual !== expected)
      throw new DigestMismatchError(session.host, { digest: expected, size: size ?? bytes.byteLength }, { digest: actual, size: bytes.byteLength });
    if (size !== undefined && size !== bytes.byteLength)
      throw new DigestMismatchError(session.host, { digest: expected ?? actual, size }, { digest: actual, size: bytes.byteLength });
    return { bytes, contentType, digest: actual };
  }
}

async function readCapped(res: Response, limit: number, what: string): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > limit) throw new ManifestError(`${what} is more than ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** One-shot helpers for callers that keep no client. */
export function resolve(ref: string, config: RegistriesConfig = {}, opts: ClientOptions = {}): Promise<{ client: RegistryClient; image: ResolvedImage }> {
  const client = new RegistryClient(config, opts);
  return client.resolve(ref).then((image) => ({ client, image }));
}
