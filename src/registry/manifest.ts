// The four manifest media types a node pulls (OCI image spec: index and
// manifest; Docker's schema 2 list and manifest, which have the same shape),
// parsed only as far as we need: descriptors of children, config and layers.

import { ManifestError } from "./errors.ts";

export const MediaType = {
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  DockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

/** Index types first: a registry holding both for a tag should give us the index. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerList, MediaType.OciManifest, MediaType.DockerManifest];

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
}

/** An OCI content descriptor (image spec descriptor.md), the fields we use. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** How a layer's bytes are packed, from its media type. The containerd side needs it to unpack. */
export type LayerCompression = "gzip" | "zstd" | "none";

export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaType.OciLayerGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerLayerForeignGzip:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
      return "gzip";
    case MediaType.OciLayerZstd:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
      return "zstd";
    case MediaType.OciLayer:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar":
      return "none";
    default:
      return undefined;
  }
}

export type ParsedManifest =
  | { kind: "index"; mediaType: string; manifests: Descriptor[] }
  | { kind: "image"; mediaType: string; config: Descriptor; layers: Descriptor[] };

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerList;
}

/**
 * Parses manifest bytes. `contentType` is the response's Content-Type; the
 * body's own mediaType wins when present (OCI makes it optional, Docker
 * requires it), and the two must not contradict each other.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | null, what: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ManifestError(`${what}: manifest is not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new ManifestError(`${what}: manifest is not a JSON object`);
  const m = doc as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw new ManifestError(`${what}: schemaVersion ${JSON.stringify(m.schemaVersion)} is not supported (only 2)`);
  const header = contentType?.split(";")[0]?.trim();
  let mediaType = typeof m.mediaType === "string" ? m.mediaType : undefined;
  if (mediaType === undefined) {
    // OCI leaves mediaType optional: tell index from manifest by its fields.
    if (header !== undefined && header !== "" && (MANIFEST_ACCEPT as string[]).includes(header)) mediaType = header;
    else mediaType = Array.isArray(m.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (!(MANIFEST_ACCEPT as string[]).includes(mediaType)) throw new ManifestError(`${what}: media type ${mediaType} is not supported`);

  if (isIndexType(mediaType)) {
    if (!Array.isArray(m.manifests)) throw new ManifestError(`${what}: index has no "manifests" array`);
    return { kind: "index", mediaType, manifests: m.manifests.map((d, i) => descriptor(d, `${what}: manifests[${i}]`)) };
  }
  if (!Array.isArray(m.layers)) throw new ManifestError(`${what}: manifest has no "layers" array`);
  return {
    kind: "image",
    mediaType,
    config: descriptor(m.config, `${what}: config`),
    layers: m.layers.map((d, i) => descriptor(d, `${what}: layers[${i}]`)),
  };
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

function descriptor(v: unknown, what: string): Descriptor {
  if (typeof v !== "object" || v === null) throw new ManifestError(`${what}: not a descriptor object`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || d.mediaType === "") throw new ManifestError(`${what}: descriptor has no mediaType`);
  if (typeof d.digest !== "string" || !DIGEST.test(d.digest))
    throw new ManifestError(`${what}: digest ${JSON.stringify(d.digest)} is not a sha256/sha512 digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
    throw new ManifestError(`${what}: size ${JSON.stringify(d.size)} is not a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (Array.isArray(d.urls) && d.urls.every((u) => typeof u === "string")) out.urls = d.urls as string[];
  if (typeof d.annotations === "object" && d.annotations !== null) out.annotations = d.annotations as Record<string, string>;
  if (typeof d.platform === "object" && d.platform !== null) {
    const p = d.platform as Record<string, unknown>;
    if (typeof p.architecture === "string" && typeof p.os === "string") {
      out.platform = { architecture: p.architecture, os: p.os };
      if (typeof p.variant === "string") out.platform.variant = p.variant;
      if (typeof p["os.version"] === "string") out.platform["os.version"] = p["os.version"];
    }
  }
  return out;
}

export function platformName(p: Platform | undefined): string {
  if (p === undefined) return "unknown";
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * The entry for `want` in an index: same os and architecture; when several
 * match, the one whose variant equals want's (or has none). Attestation
 * manifests (BuildKit's "unknown/unknown") never match.
 */
export function pickPlatform(manifests: Descriptor[], want: Platform): Descriptor | undefined {
  const same = manifests.filter((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture);
  return same.find((d) => (d.platform?.variant ?? "") === (want.variant ?? "")) ?? same.find((d) => d.platform?.variant === undefined) ?? same[0];
}
