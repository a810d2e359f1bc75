// The hand-built WRITE frame must be exactly what containerd's proto decodes
// (a wrong varint or field number would corrupt every upload), and `pieces`
// must hand on every byte once, in order, within the size asked for each piece.
import { describe, expect, test } from "bun:test";
import { pieceLists, pieces, writeRequestFrame, writeRequestHead } from "../../../src/containerd/content.ts";
import { Deframer } from "../../../src/containerd/grpc.ts";
import { decode } from "../../../src/containerd/schema.ts";

type WriteReq = { action: string; offset: number; data: Uint8Array };

function decodeFrame(frame: Buffer): WriteReq {
  const msgs = new Deframer().push(frame);
  expect(msgs.length).toBe(1);
  return decode<WriteReq>("containerd.services.content.v1.WriteContentRequest", msgs[0]!);
}

describe("writeRequestFrame", () => {
  for (const offset of [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 5 * 2 ** 40 + 12345]) {
    test(`offset ${offset} and data decode as WriteContentRequest {WRITE, offset, data}`, () => {
      const data = new Uint8Array(1000 + (offset % 7)).map((_, i) => (i * 31 + offset) & 0xff);
      const r = decodeFrame(writeRequestFrame(offset, data));
      expect(r.action).toBe("WRITE");
      expect(r.offset).toBe(offset);
      expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
    });
  }

  test("a data length needing a multi-byte varint (200,000 bytes)", () => {
    const data = new Uint8Array(200_000).fill(7);
    const r = decodeFrame(writeRequestFrame(42, data));
    expect(r.data.length).toBe(200_000);
    expect(r.offset).toBe(42);
  });
});

describe("pieces", () => {
  test("every byte once, in order; no piece larger than asked; sizes may change between pieces", async () => {
    const input = Buffer.alloc(100_000).map((_, i) => i & 0xff);
    const chunks = [input.subarray(0, 10), input.subarray(10, 40_000), input.subarray(40_000, 40_001), input.subarray(40_001)];
    const sizes = [7, 5000, 65_536, 3, 20_000];
    let k = 0;
    const got: Uint8Array[] = [];
    for await (const p of pieces(chunks, () => {
      return sizes[k++ % sizes.length]!;
    })) {
      got.push(p);
    }
    expect(Buffer.concat(got).equals(input)).toBe(true);
    for (const p of got) expect(p.length).toBeGreaterThan(0);
    expect(Math.max(...got.map((p) => p.length))).toBeLessThanOrEqual(65_536);
  });

  test("an empty stream yields nothing", async () => {
    const got: Uint8Array[] = [];
    for await (const p of pieces([], () => 10)) got.push(p);
    expect(got).toEqual([]);
  });
});

describe("pieceLists and writeRequestHead (the upload stream's path: nothing copied before the frames)", () => {
  test("pieces of exactly `size` bytes (the last shorter) made of the input's own slices, every byte once", async () => {
    const input = Buffer.alloc(10_000).map((_, i) => (i * 7) & 0xff);
    const chunks = [input.subarray(0, 3000), input.subarray(3000, 3001), input.subarray(3001)];
    const got: { parts: Uint8Array[]; bytes: number }[] = [];
    for await (const p of pieceLists(chunks, 4096)) got.push(p);
    expect(got.map((p) => p.bytes)).toEqual([4096, 4096, 10_000 - 8192]);
    for (const p of got) expect(p.parts.reduce((a, x) => a + x.length, 0)).toBe(p.bytes);
    expect(Buffer.concat(got.flatMap((p) => p.parts)).equals(input)).toBe(true);
    // Slices share the input's memory: no copy was made.
    expect(got[0]!.parts[0]!.buffer).toBe(input.buffer);
  });

  test("head + data is the same frame as writeRequestFrame", () => {
    const data = new Uint8Array(70_000).fill(3);
    expect(Buffer.concat([writeRequestHead(123_456_789, data.length), data]).equals(writeRequestFrame(123_456_789, data))).toBe(true);
  });
});
