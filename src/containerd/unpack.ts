// Unpacking one image layer into a snapshotter, the way containerd's own
// unpacker does it over the API: Prepare an active snapshot on the parent
// chain, let the differ Apply the layer blob into its mounts, and Commit it
// under the layer's chain ID. The active snapshot is removed on any failure.
import { ApiError } from "./grpc.ts";
import { Code } from "../api/status.ts";
import { chainIDs } from "./digest.ts";
import { DEFAULT_SNAPSHOTTER, type NamespaceClient, type containerd } from "./namespaced.ts";
import type { Msg } from "./schema.ts";
import { randomHex } from "../lib/random.ts";

export interface UnpackLayerOptions {
  /** The layer blob, already in the content store (media type says how it is compressed). */
  layer: Msg<containerd.types.Descriptor> & { digest: string };
  /** Chain ID of the layers below ("" for the bottom layer). */
  parentChainId: string;
  /** The layer's diff ID from the image config, if known: checked against what Apply computed, and lets a present snapshot be reused. */
  diffId?: string;
  snapshotter?: string;
  /** Labels on the committed snapshot. */
  labels?: Record<string, string>;
}

export interface UnpackedLayer {
  chainId: string;
  diffId: string;
  /** The snapshot was there already: nothing was applied. */
  existed: boolean;
}

function chainOf(parent: string, diffId: string): string {
  return parent ? chainIDs([parent, diffId])[1]! : diffId;
}

/**
 * Unpacks `layer` on top of `parentChainId`. Call it on a NamespaceClient that
 * holds a lease (withLease), or the garbage collector may take the committed
 * snapshot before an image or container refers to it.
 */
export async function unpackLayer(ns: NamespaceClient, opts: UnpackLayerOptions): Promise<UnpackedLayer> {
  const snapshotter = opts.snapshotter ?? DEFAULT_SNAPSHOTTER;
  if (opts.diffId) {
    const chainId = chainOf(opts.parentChainId, opts.diffId);
    try {
      await ns.snapshots.stat(chainId, snapshotter);
      return { chainId, diffId: opts.diffId, existed: true };
    } catch (e) {
      if (!(e instanceof ApiError && e.code === Code.NOT_FOUND)) throw e;
    }
  }
  const key = `extract-${Date.now()}-${randomHex(6)} ${opts.layer.digest}`;
  let prepared = false;
  try {
    const mounts = await ns.snapshots.prepare(key, opts.parentChainId, { snapshotter });
    prepared = true;
    const applied = await ns.diff.apply(opts.layer, mounts);
    if (opts.diffId && applied.digest !== opts.diffId)
      throw new ApiError(Code.FAILED_PRECONDITION, `layer ${opts.layer.digest}: diff ID is ${applied.digest}, the image says ${opts.diffId}`);
    const chainId = chainOf(opts.parentChainId, applied.digest);
    try {
      await ns.snapshots.commit(chainId, key, { snapshotter, labels: opts.labels ?? {} });
      prepared = false;
      return { chainId, diffId: applied.digest, existed: false };
    } catch (e) {
      // Someone unpacked the same chain meanwhile: theirs is as good as ours.
      if (e instanceof ApiError && e.code === Code.ALREADY_EXISTS) return { chainId, diffId: applied.digest, existed: true };
      throw e;
    }
  } finally {
    if (prepared) await ns.snapshots.remove(key, snapshotter).catch(() => {});
  }
}
