// OCI digests ("sha256:<hex>") and layer chain IDs, the names under which
// unpacked layers are committed as snapshots: the first layer's chain ID is
// its diff ID; each next one is sha256 of "<parent chain ID> <diff ID>".

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
}

/** A running sha256 over chunks, for verifying a blob while it streams. */
export class DigestWriter {
  private readonly hash = new Bun.CryptoHasher("sha256");
  size = 0;
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/** Chain IDs of a layer stack, bottom first: result[i] names the snapshot of layers 0..i. */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffID of diffIDs) {
    if (!isDigest(diffID)) throw new Error(`not a sha256 digest: "${diffID}"`);
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffID : sha256Digest(`${parent} ${diffID}`));
  }
  return out;
}

/** The chain ID of the whole stack (the top snapshot's name). */
export function chainID(diffIDs: readonly string[]): string {
  const ids = chainIDs(diffIDs);
  const top = ids[ids.length - 1];
  if (top === undefined) throw new Error("chainID of no layers");
  return top;
}
