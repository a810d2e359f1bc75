// Random identifiers from Web Crypto (native in Bun), not node:crypto: that
// module costs PID 1 megabytes to load (src/lib/node-libs.ts).

/** `n` random bytes as 2n hex digits (lease and snapshot keys). */
export function randomHex(n: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("hex");
}
