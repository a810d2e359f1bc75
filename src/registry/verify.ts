// Content verification for bytes that arrive in pieces: a running hash and
// byte count against a descriptor. Nothing is buffered; the verdict comes
// after the last piece, so a consumer writing the pieces somewhere learns of
// a mismatch before it commits what it wrote.

import { DigestMismatchError } from "./errors.ts";
import type { Descriptor } from "./manifest.ts";

type Algorithm = "sha256" | "sha512";

export class Verifier {
  private readonly hasher: Bun.CryptoHasher;
  private readonly algorithm: Algorithm;
  private digest: string | undefined; // CryptoHasher.digest() resets the hasher: take it once
  received = 0;

  constructor(
    readonly host: string,
    readonly expected: Pick<Descriptor, "digest" | "size">,
  ) {
    const alg = expected.digest.slice(0, expected.digest.indexOf(":"));
    if (alg !== "sha256" && alg !== "sha512") throw new Error(`digest ${expected.digest}: algorithm ${alg} is not supported`);
    this.algorithm = alg;
    this.hasher = new Bun.CryptoHasher(alg);
  }

  /** Counts and hashes `chunk`; throws DigestMismatchError at once when it runs past the declared size. */
  update(chunk: Uint8Array): void {
    this.received += chunk.byteLength;
    if (this.received > this.expected.size) throw new DigestMismatchError(this.host, this.expected, { size: this.received });
    this.hasher.update(chunk);
  }

  /** Throws DigestMismatchError unless the bytes seen are exactly the descriptor's. */
  finish(): void {
    const digest = (this.digest ??= `${this.algorithm}:${this.hasher.digest("hex")}`);
    if (digest !== this.expected.digest || this.received !== this.expected.size) {
      throw new DigestMismatchError(this.host, this.expected, { digest, size: this.received });
    }
  }
}

/** "sha256:<hex>" of bytes held in memory (manifests, configs). */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** The digest of `bytes` in the algorithm `like` uses. */
export function digestLike(like: string, bytes: Uint8Array): string {
  const alg = like.startsWith("sha512:") ? "sha512" : "sha256";
  return `${alg}:${new Bun.CryptoHasher(alg).update(bytes).digest("hex")}`;
}
