// Chain IDs name unpacked layer stacks; a wrong one makes containerd unpack
// every image again (or reuse the wrong snapshot). rechunk decides what each
// content WRITE carries.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { DigestWriter, chainID, chainIDs, isDigest, rechunk, sha256Digest } from "../../../src/containerd/index.ts";

const sha = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");

describe("digests and chain IDs", () => {
  test("sha256Digest and DigestWriter agree with a one-shot hash", () => {
    expect(sha256Digest("abc")).toBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const w = new DigestWriter();
    w.update(Buffer.from("a"));
    w.update(Buffer.from("bc"));
    expect(w.digest()).toBe(sha256Digest("abc"));
    expect(w.size).toBe(3);
    expect(isDigest(sha256Digest("x"))).toBe(true);
    expect(isDigest("sha256:XYZ")).toBe(false);
  });

  test("the bottom layer's chain ID is its diff ID; each next is sha256 of 'parent diffID'", () => {
    const d = [sha("layer1"), sha("layer2"), sha("layer3")];
    const c2 = sha(`${d[0]} ${d[1]}`);
    const c3 = sha(`${c2} ${d[2]}`);
    expect(chainIDs(d)).toEqual([d[0]!, c2, c3]);
    expect(chainID(d)).toBe(c3);
    expect(chainID([d[0]!])).toBe(d[0]!);
  });

  test("bad input is refused", () => {
    expect(() => chainID([])).toThrow();
    expect(() => chainIDs(["sha256:nothex"])).toThrow(/not a sha256 digest/);
  });
});

describe("rechunk", () => {
  async function collect(chunks: Uint8Array[], size: number): Promise<number[]> {
    const out: number[] = [];
    const all: number[] = [];
    for await (const c of rechunk(chunks, size)) {
      out.push(c.length);
      all.push(...c);
    }
    expect(all).toEqual(chunks.flatMap((c) => [...c]));
    return out;
  }
  const b = (n: number, v = 1) => new Uint8Array(n).fill(v);

  test("coalesces small pieces and splits large ones into exact sizes, keeping the bytes in order", async () => {
    expect(await collect([b(3, 1), b(3, 2), b(3, 3)], 4)).toEqual([4, 4, 1]);
    expect(await collect([b(10, 7)], 4)).toEqual([4, 4, 2]);
    expect(await collect([b(4), b(4)], 4)).toEqual([4, 4]);
    expect(await collect([b(0), b(2), b(0)], 4)).toEqual([2]);
    expect(await collect([], 4)).toEqual([]);
  });
});
