// etcd snapshots as Maintenance.Snapshot streams them: the backend database
// followed by the SHA-256 of everything before it. A snapshot whose trailer
// does not match is corrupt (or truncated) and is refused before any data is
// replaced.

export const SNAPSHOT_HASH_BYTES = 32;

/** undefined when the snapshot's trailing SHA-256 matches its body, else the reason. */
export function snapshotProblem(data: Uint8Array): string | undefined {
  if (data.length <= SNAPSHOT_HASH_BYTES) return `snapshot of ${data.length} bytes is too short to be one`;
  const body = data.subarray(0, data.length - SNAPSHOT_HASH_BYTES);
  const want = Buffer.from(data.subarray(data.length - SNAPSHOT_HASH_BYTES));
  const got = Buffer.from(new Bun.CryptoHasher("sha256").update(body).digest());
  return got.equals(want) ? undefined : "snapshot integrity check failed: its SHA-256 trailer does not match (corrupt or truncated)";
}
