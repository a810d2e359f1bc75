// The containerd client's public surface.
export { ContainerdClient, type ContainerdClientOptions } from "./client.ts";
export {
  NamespaceClient,
  DEFAULT_RUNTIME,
  DEFAULT_SNAPSHOTTER,
  runcOptions,
  type ContainerdEvent,
  type ContainerSpec,
  type Duplex,
  type Stream,
  type TaskIO,
  type containerd,
  type google,
} from "./namespaced.ts";
export { writeBlob, rechunk, pieces, WRITE_CHUNK_BYTES, type WriteBlobOptions, type WrittenBlob } from "./content.ts";
export { unpackLayer, type UnpackLayerOptions, type UnpackedLayer } from "./unpack.ts";
export { chainID, chainIDs, sha256Digest, isDigest, DigestWriter } from "./digest.ts";
export { OCI_SPEC_TYPE_URL, OCI_PROCESS_TYPE_URL, packJson, unpackJson, decodeAny, fromTimestamp, type Msg } from "./schema.ts";
export { ApiError, type CallOptions } from "./grpc.ts";
