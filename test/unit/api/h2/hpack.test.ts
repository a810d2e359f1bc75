// src/api/h2/hpack.ts against RFC 7541: the Appendix C examples (decoded
// block by block, dynamic table checked after each), every Huffman symbol
// against Appendix B's own code column, the decoding errors section 5 and 6
// call for, encodeHeaders round trips, and a header block from a real
// HTTP/2 client (node:http2, which Huffman-codes and indexes).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeHeaders, HpackDecoder, HpackError } from "../../../../src/api/h2/hpack.ts";

type Fields = [string, string][];

function hex(s: string): Uint8Array {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

function decodeError(block: string | Uint8Array, decoder = new HpackDecoder()): HpackError {
  try {
    decoder.decode(typeof block === "string" ? hex(block) : block);
  } catch (err) {
    if (err instanceof HpackError) return err;
    throw err;
  }
  throw new Error("decode did not fail");
}

describe("RFC 7541 C.2 header field representations", () => {
  test("C.2.1 literal with indexing", () => {
    const d = new HpackDecoder();
    expect(d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))).toEqual([["custom-key", "custom-header"]]);
    expect(d.tableEntries()).toEqual([["custom-key", "custom-header"]]);
    expect(d.tableSize).toBe(55);
  });

  test("C.2.2 literal without indexing", () => {
    const d = new HpackDecoder();
    expect(d.decode(hex("040c 2f73 616d 706c 652f 7061 7468"))).toEqual([[":path", "/sample/path"]]);
    expect(d.tableSize).toBe(0);
  });

  test("C.2.3 literal never indexed", () => {
    const d = new HpackDecoder();
    expect(d.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))).toEqual([["password", "secret"]]);
    expect(d.tableSize).toBe(0);
  });

  test("C.2.4 indexed", () => {
    const d = new HpackDecoder();
    expect(d.decode(hex("82"))).toEqual([[":method", "GET"]]);
    expect(d.tableSize).toBe(0);
  });
});

// C.3/C.4 carry the same header lists and tables, as do C.5/C.6.
const REQUESTS: { fields: Fields; table: Fields; size: number }[] = [
  {
    fields: [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ],
    table: [[":authority", "www.example.com"]],
    size: 57,
  },
  {
    fields: [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ],
    table: [
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
    size: 110,
  },
  {
    fields: [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ],
    table: [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
    size: 164,
  },
];

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: { fields: Fields; table: Fields; size: number }[] = [
  {
    fields: [
      [":status", "302"],
      ["cache-control", "private"],
      ["date", DATE1],
      ["location", LOCATION],
    ],
    table: [
      ["location", LOCATION],
      ["date", DATE1],
      ["cache-control", "private"],
      [":status", "302"],
    ],
    size: 222,
  },
  {
    fields: [
      [":status", "307"],
      ["cache-control", "private"],
      ["date", DATE1],
      ["location", LOCATION],
    ],
    table: [
      [":status", "307"],
      ["location", LOCATION],
      ["date", DATE1],
      ["cache-control", "private"],
    ],
    size: 222,
  },
  {
    fields: [
      [":status", "200"],
      ["cache-control", "private"],
      ["date", DATE2],
      ["location", LOCATION],
      ["content-encoding", "gzip"],
      ["set-cookie", COOKIE],
    ],
    table: [
      ["set-cookie", COOKIE],
      ["content-encoding", "gzip"],
      ["date", DATE2],
    ],
    size: 215,
  },
];

function runSequence(decoder: HpackDecoder, blocks: string[], expected: { fields: Fields; table: Fields; size: number }[]): void {
  blocks.forEach((block, i) => {
    const want = expected[i]!;
    expect(decoder.decode(hex(block))).toEqual(want.fields);
    expect(decoder.tableEntries()).toEqual(want.table);
    expect(decoder.tableSize).toBe(want.size);
  });
}

describe("RFC 7541 C.3-C.6 sequences sharing a dynamic table", () => {
  test("C.3 requests without Huffman coding", () => {
    runSequence(
      new HpackDecoder(),
      [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      ],
      REQUESTS,
    );
  });

  test("C.4 requests with Huffman coding", () => {
    runSequence(
      new HpackDecoder(),
      ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"],
      REQUESTS,
    );
  });

  test("C.5 responses without Huffman coding, 256-octet table with evictions", () => {
    runSequence(
      new HpackDecoder(256),
      [
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
      ],
      RESPONSES,
    );
  });

  test("C.6 responses with Huffman coding, 256-octet table with evictions", () => {
    runSequence(
      new HpackDecoder(256),
      [
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
      ],
      RESPONSES,
    );
  });
});

// Appendix B's code column (hex code / bit length) for symbols 0-255 and EOS,
// independent of the module, which keeps only the lengths and derives the
// codes from them.
const APPENDIX_B = `
  1ff8/13 7fffd8/23 fffffe2/28 fffffe3/28 fffffe4/28 fffffe5/28 fffffe6/28 fffffe7/28 fffffe8/28 ffffea/24 3ffffffc/30 fffffe9/28
  fffffea/28 3ffffffd/30 fffffeb/28 fffffec/28 fffffed/28 fffffee/28 fffffef/28 ffffff0/28 ffffff1/28 ffffff2/28 3ffffffe/30 ffffff3/28
  ffffff4/28 ffffff5/28 ffffff6/28 ffffff7/28 ffffff8/28 ffffff9/28 ffffffa/28 ffffffb/28 14/6 3f8/10 3f9/10 ffa/12
  1ff9/13 15/6 f8/8 7fa/11 3fa/10 3fb/10 f9/8 7fb/11 fa/8 16/6 17/6 18/6
  0/5 1/5 2/5 19/6 1a/6 1b/6 1c/6 1d/6 1e/6 1f/6 5c/7 fb/8
  7ffc/15 20/6 ffb/12 3fc/10 1ffa/13 21/6 5d/7 5e/7 5f/7 60/7 61/7 62/7
  63/7 64/7 65/7 66/7 67/7 68/7 69/7 6a/7 6b/7 6c/7 6d/7 6e/7
  6f/7 70/7 71/7 72/7 fc/8 73/7 fd/8 1ffb/13 7fff0/19 1ffc/13 3ffc/14 22/6
  7ffd/15 3/5 23/6 4/5 24/6 5/5 25/6 26/6 27/6 6/5 74/7 75/7
  28/6 29/6 2a/6 7/5 2b/6 76/7 2c/6 8/5 9/5 2d/6 77/7 78/7
  79/7 7a/7 7b/7 7ffe/15 7fc/11 3ffd/14 1ffd/13 ffffffc/28 fffe6/20 3fffd2/22 fffe7/20 fffe8/20
  3fffd3/22 3fffd4/22 3fffd5/22 7fffd9/23 3fffd6/22 7fffda/23 7fffdb/23 7fffdc/23 7fffdd/23 7fffde/23 ffffeb/24 7fffdf/23
  ffffec/24 ffffed/24 3fffd7/22 7fffe0/23 ffffee/24 7fffe1/23 7fffe2/23 7fffe3/23 7fffe4/23 1fffdc/21 3fffd8/22 7fffe5/23
  3fffd9/22 7fffe6/23 7fffe7/23 ffffef/24 3fffda/22 1fffdd/21 fffe9/20 3fffdb/22 3fffdc/22 7fffe8/23 7fffe9/23 1fffde/21
  7fffea/23 3fffdd/22 3fffde/22 fffff0/24 1fffdf/21 3fffdf/22 7fffeb/23 7fffec/23 1fffe0/21 1fffe1/21 3fffe0/22 1fffe2/21
  7fffed/23 3fffe1/22 7fffee/23 7fffef/23 fffea/20 3fffe2/22 3fffe3/22 3fffe4/22 7ffff0/23 3fffe5/22 3fffe6/22 7ffff1/23
  3ffffe0/26 3ffffe1/26 fffeb/20 7fff1/19 3fffe7/22 7ffff2/23 3fffe8/22 1ffffec/25 3ffffe2/26 3ffffe3/26 3ffffe4/26 7ffffde/27
  7ffffdf/27 3ffffe5/26 fffff1/24 1ffffed/25 7fff2/19 1fffe3/21 3ffffe6/26 7ffffe0/27 7ffffe1/27 3ffffe7/26 7ffffe2/27 fffff2/24
  1fffe4/21 1fffe5/21 3ffffe8/26 3ffffe9/26 ffffffd/28 7ffffe3/27 7ffffe4/27 7ffffe5/27 fffec/20 fffff3/24 fffed/20 1fffe6/21
  3fffe9/22 1fffe7/21 1fffe8/21 7ffff3/23 3fffea/22 3fffeb/22 1ffffee/25 1ffffef/25 fffff4/24 fffff5/24 3ffffea/26 7ffff4/23
  3ffffeb/26 7ffffe6/27 3ffffec/26 3ffffed/26 7ffffe7/27 7ffffe8/27 7ffffe9/27 7ffffea/27 7ffffeb/27 ffffffe/28 7ffffec/27 7ffffed/27
  7ffffee/27 7ffffef/27 7fffff0/27 3ffffee/26 3fffffff/30
`
  .trim()
  .split(/\s+/)
  .map((tok) => {
    const [code, len] = tok.split("/");
    return { code: Number.parseInt(code!, 16), len: Number(len) };
  });

/** Huffman-codes symbols with APPENDIX_B, padding with ones (the most significant bits of EOS). */
function huffmanEncode(symbols: readonly number[], padBits?: number): Uint8Array {
  const bits: number[] = [];
  for (const s of symbols) {
    const { code, len } = APPENDIX_B[s]!;
    for (let b = len - 1; b >= 0; b--) bits.push(Math.floor(code / 2 ** b) % 2);
  }
  const pad = padBits ?? (8 - (bits.length % 8)) % 8;
  for (let k = 0; k < pad; k++) bits.push(1);
  if (bits.length % 8 !== 0) throw new Error("huffmanEncode: not a whole number of octets");
  const out = new Uint8Array(bits.length / 8);
  for (let k = 0; k < bits.length; k++) out[k >> 3]! |= bits[k]! << (7 - (k & 7));
  return out;
}

/** A literal-without-indexing block for static name 4 (:path) whose value is `payload` with the H bit set. */
function huffmanBlock(payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const prefix = len < 127 ? [0x04, 0x80 | len] : [0x04, 0xff, ...integerTail(len - 127)];
  return Uint8Array.from([...prefix, ...payload]);
}

function integerTail(v: number): number[] {
  const out: number[] = [];
  for (; v >= 128; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
  out.push(v);
  return out;
}

function latin1(symbols: readonly number[]): string {
  return String.fromCharCode(...symbols);
}

describe("Huffman decoding against Appendix B", () => {
  test("the transcription in this test is a complete prefix code of 257 symbols", () => {
    expect(APPENDIX_B.length).toBe(257);
    expect(APPENDIX_B.reduce((sum, { len }) => sum + 2 ** -len, 0)).toBe(1);
  });

  test("every octet alone, then between short codes", () => {
    for (let s = 0; s < 256; s++) {
      expect(new HpackDecoder().decode(huffmanBlock(huffmanEncode([s])))).toEqual([[":path", latin1([s])]]);
      const mixed = [0x61, s, 0x30, s, s, 0x7a];
      expect(new HpackDecoder().decode(huffmanBlock(huffmanEncode(mixed)))).toEqual([[":path", latin1(mixed)]]);
    }
  });

  test("all 256 octets in a row, in several orders", () => {
    const all = Array.from({ length: 256 }, (_, i) => i);
    for (const order of [all, all.toReversed(), all.map((_, i) => (i * 37) % 256)]) {
      expect(new HpackDecoder().decode(huffmanBlock(huffmanEncode(order)))).toEqual([[":path", latin1(order)]]);
    }
  });

  test("empty Huffman string and padding of every allowed length", () => {
    expect(new HpackDecoder().decode(hex("0480"))).toEqual([[":path", ""]]);
    // Padding of 3, 6, 1, 1, 0 and 5 bits.
    for (const syms of [[0x61], [0x30, 0x61], [0x3a], [0x61, 0x30, 0x61], [0x26], [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61]]) {
      expect(new HpackDecoder().decode(huffmanBlock(huffmanEncode(syms)))).toEqual([[":path", latin1(syms)]]);
    }
  });
});

describe("decoding errors", () => {
  test("index 0", () => {
    expect(decodeError("80").message).toMatch(/index 0/);
  });

  test("index beyond the static and dynamic tables", () => {
    expect(decodeError("be").message).toMatch(/beyond/); // 62 with an empty dynamic table
    expect(decodeError("7e 00").message).toMatch(/beyond/); // the same as a literal's name
    const d = new HpackDecoder();
    d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    expect(d.decode(hex("be"))).toEqual([["custom-key", "custom-header"]]);
    expect(decodeError("bf", d).message).toMatch(/beyond/);
  });

  test("Huffman padding that is not all ones", () => {
    // 'a' = 00011, then 000.
    expect(decodeError("04 81 18").message).toMatch(/padding is not all ones/);
    // '0' '0' (00000 00000), then 111110: a prefix of ';' (11111011), not of EOS.
    expect(decodeError("04 82 00 3e").message).toMatch(/padding is not all ones/);
  });

  test("Huffman padding longer than 7 bits", () => {
    expect(decodeError(huffmanBlock(huffmanEncode([0x61], 11))).message).toMatch(/more than 7 bits/);
    expect(decodeError(huffmanBlock(huffmanEncode([0x26], 8))).message).toMatch(/more than 7 bits/);
  });

  test("EOS symbol inside a Huffman string", () => {
    expect(decodeError(huffmanBlock(huffmanEncode([256], 2))).message).toMatch(/EOS/);
    expect(decodeError(huffmanBlock(huffmanEncode([0x61, 256, 0x61]))).message).toMatch(/EOS/);
  });

  test("dynamic table size update above the advertised limit", () => {
    // 4096 = 31 + 97 + 31 * 128: allowed; 4097: not.
    const d = new HpackDecoder();
    expect(d.decode(hex("3fe11f 82"))).toEqual([[":method", "GET"]]);
    expect(d.tableMaxSize).toBe(4096);
    expect(decodeError("3fe21f").message).toMatch(/exceeds the limit/);
    expect(decodeError("3f e1 01", new HpackDecoder(100)).message).toMatch(/exceeds the limit/);
  });

  test("dynamic table size updates: at block start, several in a row, evicting", () => {
    const d = new HpackDecoder();
    runSequence(d, ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865"], REQUESTS);
    // Shrink to 60, which evicts the oldest entry (:authority), then to 0 and back to 4096 (emptying it).
    expect(d.decode(hex("3f1d 82"))).toEqual([[":method", "GET"]]);
    expect(d.tableEntries()).toEqual([["cache-control", "no-cache"]]);
    expect(d.tableSize).toBe(53);
    expect(d.tableMaxSize).toBe(60);
    expect(d.decode(hex("20 3fe11f"))).toEqual([]);
    expect(d.tableSize).toBe(0);
    expect(d.tableMaxSize).toBe(4096);
    expect(decodeError("be", d).message).toMatch(/beyond/);
  });

  test("dynamic table size update after a field", () => {
    expect(decodeError("82 20").message).toMatch(/after a header field/);
  });

  test("an entry larger than the table empties it and is not added", () => {
    const d = new HpackDecoder(64);
    expect(d.decode(hex("4103 6162 63"))).toEqual([[":authority", "abc"]]);
    expect(d.tableSize).toBe(45);
    const big = "x".repeat(40);
    expect(d.decode(Uint8Array.from([0x41, big.length, ...Buffer.from(big, "latin1")]))).toEqual([[":authority", big]]);
    expect(d.tableSize).toBe(0);
    expect(d.tableEntries()).toEqual([]);
  });

  test("integer overflow", () => {
    expect(decodeError("ff ff ff ff ff 0f").message).toMatch(/overflow/); // 127 + 2^35-ish
    expect(decodeError("ff 80 80 80 80 80 00").message).toMatch(/overflow/); // too many continuation octets
    expect(decodeError("0f ff ff ff ff 07").message).toMatch(/overflow/); // 15 + 2^31 - 1 as a name index
  });

  test("truncated block", () => {
    expect(decodeError("ff").message).toMatch(/truncated/); // integer needs continuation
    expect(decodeError("ff 80").message).toMatch(/truncated/);
    expect(decodeError("41 0f 77 77").message).toMatch(/truncated/); // 15-octet value, 2 present
    expect(decodeError("40").message).toMatch(/truncated/); // literal name missing
    expect(decodeError("40 01 61").message).toMatch(/truncated/); // value missing
    expect(decodeError("04 85 f1e3").message).toMatch(/truncated/);
  });

  test("header list over the limit", () => {
    // C.3.1's list is 42 + 43 + 38 + 57 = 180 octets by RFC 9113's count.
    const block = hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
    expect(new HpackDecoder(4096, 180).decode(block)).toHaveLength(4);
    expect(decodeError(block, new HpackDecoder(4096, 179)).message).toMatch(/header list exceeds 179/);
  });

  test("after an error the decoder refuses further blocks", () => {
    const d = new HpackDecoder();
    decodeError("80", d);
    expect(decodeError("82", d).message).toMatch(/already failed/);
  });

  test("errors are HpackError instances named HpackError", () => {
    const err = decodeError("80");
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("HpackError");
  });
});

describe("encodeHeaders", () => {
  test('[":status", "200"] is the single octet 0x88', () => {
    expect([...encodeHeaders([[":status", "200"]])]).toEqual([0x88]);
  });

  test("a gRPC response's headers and trailers", () => {
    const fields: Fields = [
      [":status", "200"],
      ["content-type", "application/grpc+proto"],
      ["grpc-status", "0"],
    ];
    const block = encodeHeaders(fields);
    // 0x88; content-type is static name 31 (0x0f, 31 - 15); grpc-status is a literal name.
    expect(Buffer.from(block).toString("hex")).toBe(
      "88" + "0f10" + "16" + Buffer.from("application/grpc+proto").toString("hex") + "00" + "0b" + Buffer.from("grpc-status").toString("hex") + "0130",
    );
    expect(new HpackDecoder().decode(block)).toEqual(fields);
  });

  const LISTS: Fields[] = [
    [],
    [
      [":status", "200"],
      ["content-type", "application/grpc"],
    ],
    [
      [":method", "POST"],
      [":scheme", "https"],
      [":path", "/machine.MachineService/Version"],
      [":authority", "localhost"],
      ["te", "trailers"],
      ["accept", ""],
      ["www-authenticate", ""],
      ["accept-encoding", "gzip, deflate"],
      ["accept-encoding", "identity"],
    ],
    [
      ["x-empty", ""],
      ["", ""],
      ["grpc-message", "caf\u00e9 \u00ff\u0080\u0000\u0009 done"],
      ["x-latin1", String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))],
      ["x-long", "v".repeat(5000)],
      ["n".repeat(300), "w"],
      ["grpc-status", "13"],
    ],
  ];
  for (const [i, fields] of LISTS.entries()) {
    test(`round trip ${i}`, () => {
      const d = new HpackDecoder();
      expect(d.decode(encodeHeaders(fields))).toEqual(fields);
      // The encoder never asks the decoder to index anything.
      expect(d.tableSize).toBe(0);
    });
  }

  test("exact static matches are indexed, others carry the static name", () => {
    expect(Buffer.from(encodeHeaders([[":method", "POST"]])).toString("hex")).toBe("83");
    expect(Buffer.from(encodeHeaders([["accept", ""]])).toString("hex")).toBe("93");
    expect(Buffer.from(encodeHeaders([[":status", "503"]])).toString("hex")).toBe("0803353033");
    expect(Buffer.from(encodeHeaders([["www-authenticate", "x"]])).toString("hex")).toBe("0f2e0178");
  });

  test("characters beyond latin1 are refused rather than truncated", () => {
    expect(() => encodeHeaders([["grpc-message", "\u20ac"]])).toThrow(RangeError);
  });
});

// --- a header block from node:http2's client ---

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

/**
 * A bare HTTP/2 server on a unix socket that sends an empty SETTINGS, acks the
 * client's, and hands back the header block of each of the first `want`
 * requests (HEADERS plus CONTINUATIONs, padding and priority removed).
 */
async function captureHeaderBlocks(send: (client: http2.ClientHttp2Session) => void, want: number): Promise<Uint8Array[]> {
  const dir = mkdtempSync(join(tmpdir(), "hpack-test-"));
  const path = join(dir, "h2.sock");
  const blocks: Uint8Array[] = [];
  let server: net.Server | undefined;
  let client: http2.ClientHttp2Session | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<Uint8Array[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after 5s waiting for ${want} HEADERS blocks from node:http2 (got ${blocks.length})`)), 5000);
      server = net.createServer((sock) => {
        sock.on("error", () => {});
        sock.write(Buffer.from("000000" + "04" + "00" + "00000000", "hex"));
        let pending = Buffer.alloc(0);
        let prefaceSeen = false;
        let partial: Buffer[] | undefined;
        sock.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          try {
            if (!prefaceSeen) {
              if (pending.length < PREFACE.length) return;
              if (pending.toString("latin1", 0, PREFACE.length) !== PREFACE) throw new Error("bad client preface");
              pending = pending.subarray(PREFACE.length);
              prefaceSeen = true;
            }
            while (pending.length >= 9) {
              const length = pending.readUIntBE(0, 3);
              if (pending.length < 9 + length) break;
              const type = pending[3]!;
              const flags = pending[4]!;
              let payload = pending.subarray(9, 9 + length);
              pending = pending.subarray(9 + length);
              if (type === FRAME_SETTINGS && (flags & FLAG_ACK) === 0) {
                sock.write(Buffer.from("000000" + "04" + "01" + "00000000", "hex"));
              } else if (type === FRAME_HEADERS) {
                if (partial) throw new Error("HEADERS inside an unfinished header block");
                let start = 0;
                let pad = 0;
                if (flags & FLAG_PADDED) pad = payload[start++]!;
                if (flags & FLAG_PRIORITY) start += 5;
                payload = payload.subarray(start, payload.length - pad);
                partial = [Buffer.from(payload)];
              } else if (type === FRAME_CONTINUATION) {
                if (!partial) throw new Error("CONTINUATION without HEADERS");
                partial.push(Buffer.from(payload));
              } else if (partial) {
                throw new Error(`frame type ${type} inside a header block`);
              }
              if (partial && (type === FRAME_HEADERS || type === FRAME_CONTINUATION) && flags & FLAG_END_HEADERS) {
                blocks.push(Buffer.concat(partial));
                partial = undefined;
                if (blocks.length === want) resolve(blocks);
              }
            }
          } catch (err) {
            reject(err);
          }
        });
      });
      server.on("error", reject);
      server.listen(path, () => {
        client = http2.connect("http://localhost", { createConnection: () => net.connect(path) });
        client.on("error", reject);
        send(client);
      });
    });
  } finally {
    clearTimeout(timer);
    client?.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("a header block from node:http2's client", () => {
  test("two requests on one connection decode with one decoder", async () => {
    // Long enough to be Huffman-coded despite the latin1 octets (whose codes are long), and to span the dynamic table.
    const long = "0123456789".repeat(150) + " tab\t caf\u00e9 \u00ff\u0080 ~|{}^\\ end";
    const paths = ["/machine.MachineService/Version", "/machine.MachineService/Reboot"];
    const blocks = await captureHeaderBlocks((client) => {
      for (const path of paths) {
        const req = client.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "x-long-value": long });
        req.on("error", () => {});
        req.end();
      }
    }, 2);
    const d = new HpackDecoder();
    for (const [i, block] of blocks.entries()) {
      const fields = d.decode(block);
      const get = (name: string): string[] => fields.filter(([n]) => n === name).map(([, v]) => v);
      expect(get(":method")).toEqual(["POST"]);
      expect(get(":path")).toEqual([paths[i]!]);
      expect(get(":scheme")).toEqual(["http"]);
      expect(get("content-type")).toEqual(["application/grpc"]);
      expect(get("te")).toEqual(["trailers"]);
      expect(get("x-long-value")).toEqual([long]);
    }
    // The first block carried its strings Huffman-coded and indexed them; the second mostly refers back.
    expect(blocks[0]!.length).toBeLessThan(long.length);
    expect(blocks[1]!.length).toBeLessThan(blocks[0]!.length);
  });
});
