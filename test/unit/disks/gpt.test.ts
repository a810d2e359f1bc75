// The GPT writer and reader in memory: bytes where the UEFI spec puts them,
// CRCs checked against zlib's independent CRC-32, round trips at 512 and 4096
// bytes per sector, and the fallback to the backup header.
import { describe, expect, test } from "bun:test";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32 } from "../../../src/disks/crc32.ts";
import { encodeGpt, gptGeometry, readGpt, type GptTable } from "../../../src/disks/gpt.ts";
import { randomGuid, readGuid, writeGuid } from "../../../src/disks/guid.ts";
import { layoutTable, planLayout, TYPE_EFI_SYSTEM } from "../../../src/disks/layout.ts";
import { MemDisk } from "./memdisk.ts";

const MiB = 2 ** 20;

function smallTable(size: number, sectorSize: number): GptTable {
  const sectors = size / sectorSize;
  const g = gptGeometry(sectors, sectorSize);
  const a = MiB / sectorSize;
  return {
    sectorSize,
    sectors,
    diskGuid: randomGuid(),
    firstUsableLba: g.firstUsableLba,
    lastUsableLba: g.lastUsableLba,
    partitions: [
      { index: 1, type: TYPE_EFI_SYSTEM, guid: randomGuid(), firstLba: a, lastLba: 2 * a - 1, attributes: 0n, name: "EFI" },
      {
        index: 3,
        type: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        guid: randomGuid(),
        firstLba: 2 * a,
        lastLba: 4 * a - 1,
        attributes: 1n << 2n,
        name: "données-ß✓",
      },
    ],
  };
}

function flip(buf: Buffer, at: number, mask: number) {
  buf[at] = buf[at]! ^ mask;
}

function writeTable(size: number, sectorSize: number) {
  const table = smallTable(size, sectorSize);
  const disk = new MemDisk(size, sectorSize).apply(encodeGpt(table));
  return { table, disk };
}

describe("crc32", () => {
  test('the IEEE check value of "123456789" is 0xCBF43926', () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
  });
  test("agrees with zlib on random data", () => {
    for (const n of [0, 1, 92, 16384, 100_000]) {
      const b = Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });
});

describe("guid", () => {
  test("the EFI System type GUID is stored mixed-endian as the spec shows", () => {
    const b = Buffer.alloc(16);
    writeGuid(b, 0, TYPE_EFI_SYSTEM);
    expect(b.toString("hex")).toBe("28732ac11ff8d211ba4b00a0c93ec93b");
    expect(readGuid(b, 0)).toBe(TYPE_EFI_SYSTEM);
  });
  test("random GUIDs are version 4, variant 10xx, and differ", () => {
    const a = randomGuid();
    expect(a).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    expect(randomGuid()).not.toBe(a);
  });
});

for (const ss of [512, 4096]) {
  describe(`GPT with ${ss}-byte sectors`, () => {
    const size = 16 * MiB;
    const sectors = size / ss;
    const es = (128 * 128) / ss;

    test("round trip: every field read back, from the primary, no problems", async () => {
      const { table, disk } = writeTable(size, ss);
      const r = await readGpt(disk);
      if (!r.valid) throw new Error(r.reason);
      expect(r.source).toBe("primary");
      expect(r.problems).toEqual([]);
      expect(r.table).toEqual(table);
    });

    test("the bytes are where the spec puts them", () => {
      const { table } = writeTable(size, ss);
      const [primary, backup] = encodeGpt(table);
      const p = primary!.data;
      expect(primary!.offset).toBe(0);
      expect(p.length).toBe((2 + es) * ss);
      // protective MBR: one 0xEE record from LBA 1 over the rest of the disk
      expect(p[446 + 4]).toBe(0xee);
      expect(p.readUInt32LE(446 + 8)).toBe(1);
      expect(p.readUInt32LE(446 + 12)).toBe(sectors - 1);
      expect(p.readUInt16LE(510)).toBe(0xaa55);
      const h = p.subarray(ss, 2 * ss);
      expect(h.toString("latin1", 0, 8)).toBe("EFI PART");
      expect(h.readUInt32LE(8)).toBe(0x00010000);
      expect(h.readUInt32LE(12)).toBe(92);
      expect(Number(h.readBigUInt64LE(24))).toBe(1);
      expect(Number(h.readBigUInt64LE(32))).toBe(sectors - 1);
      expect(Number(h.readBigUInt64LE(40))).toBe(2 + es);
      expect(Number(h.readBigUInt64LE(48))).toBe(sectors - 2 - es);
      expect(Number(h.readBigUInt64LE(72))).toBe(2);
      expect(h.readUInt32LE(80)).toBe(128);
      expect(h.readUInt32LE(84)).toBe(128);
      // CRCs, checked with zlib rather than our own code
      const entries = p.subarray(2 * ss, 2 * ss + 128 * 128);
      expect(h.readUInt32LE(88)).toBe(zlibCrc32(entries));
      const hc = Buffer.from(h.subarray(0, 92));
      hc.writeUInt32LE(0, 16);
      expect(h.readUInt32LE(16)).toBe(zlibCrc32(hc));
      // entry 3 (index 3 → slot 2): name in UTF-16LE, attributes
      expect(entries.toString("utf16le", 2 * 128 + 56, 2 * 128 + 56 + 20)).toBe("données-ß✓");
      expect(entries.readBigUInt64LE(2 * 128 + 48)).toBe(4n);
      expect(entries.subarray(128, 256).every((b) => b === 0)).toBe(true); // slot 2 unused
      // backup: the same entries, then the header in the last LBA
      const b = backup!.data;
      expect(backup!.offset).toBe((sectors - 1 - es) * ss);
      expect(b.subarray(0, 128 * 128).equals(entries)).toBe(true);
      const bh = b.subarray(es * ss);
      expect(Number(bh.readBigUInt64LE(24))).toBe(sectors - 1);
      expect(Number(bh.readBigUInt64LE(32))).toBe(1);
      expect(Number(bh.readBigUInt64LE(72))).toBe(sectors - 1 - es);
    });

    test("a corrupt primary header: the backup is used and the problem named", async () => {
      const { table, disk } = writeTable(size, ss);
      flip(disk.buf, ss + 40, 0xff); // first usable LBA, under the header CRC
      const r = await readGpt(disk);
      if (!r.valid) throw new Error(r.reason);
      expect(r.source).toBe("backup");
      expect(r.problems[0]).toMatch(/^primary header \(LBA 1\): header CRC mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/);
      expect(r.table.partitions).toEqual(table.partitions);
      expect(r.table.diskGuid).toBe(table.diskGuid);
    });

    test("a corrupt primary entry array: the backup is used", async () => {
      const { table, disk } = writeTable(size, ss);
      flip(disk.buf, 2 * ss + 60, 0x01);
      const r = await readGpt(disk);
      if (!r.valid) throw new Error(r.reason);
      expect(r.source).toBe("backup");
      expect(r.problems[0]).toContain("entry array CRC mismatch");
      expect(r.table.partitions).toEqual(table.partitions);
    });

    test("a wiped primary (zeroes): the backup is used", async () => {
      const { disk } = writeTable(size, ss);
      disk.buf.fill(0, 0, (2 + es) * ss);
      const r = await readGpt(disk);
      expect(r.valid && r.source).toBe("backup");
      if (r.valid) expect(r.problems).toEqual(['primary header (LBA 1): no "EFI PART" signature']);
    });

    test("a corrupt backup only: the primary is used and the backup's problem reported", async () => {
      const { disk } = writeTable(size, ss);
      flip(disk.buf, (sectors - 1) * ss + 16, 0xff); // the backup's stored CRC
      const r = await readGpt(disk);
      if (!r.valid) throw new Error(r.reason);
      expect(r.source).toBe("primary");
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]).toContain(`backup header (LBA ${sectors - 1}): header CRC mismatch`);
    });

    test("both corrupt: invalid, with the reason for each", async () => {
      const { disk } = writeTable(size, ss);
      flip(disk.buf, ss + 40, 0xff);
      flip(disk.buf, (sectors - 1 - es) * ss + 5, 0xff); // backup entry array
      const r = await readGpt(disk);
      expect(r.valid).toBe(false);
      if (r.valid) return;
      expect(r.signature).toBe(true);
      expect(r.reason).toMatch(/^invalid GPT: primary header \(LBA 1\): header CRC mismatch .*; backup header \(LBA \d+\): entry array CRC mismatch/);
    });

    test("a blank disk has no GPT", async () => {
      const r = await readGpt(new MemDisk(size, ss));
      expect(r).toEqual({ valid: false, reason: 'no GPT: no "EFI PART" signature at LBA 1 or at the last LBA', signature: false });
    });

    test("valid CRCs over entries that overlap: invalid, and the reason says so", async () => {
      const { disk } = writeTable(size, ss);
      // entry 3 starts inside entry 1, in both arrays, with both headers' CRCs recomputed
      for (const [hdr, arr] of [
        [1, 2],
        [sectors - 1, sectors - 1 - es],
      ] as const) {
        const e = arr * ss + 2 * 128;
        disk.buf.writeBigUInt64LE(BigInt(MiB / ss), e + 32);
        const h = hdr * ss;
        disk.buf.writeUInt32LE(zlibCrc32(disk.buf.subarray(arr * ss, arr * ss + 128 * 128)), h + 88);
        disk.buf.writeUInt32LE(0, h + 16);
        disk.buf.writeUInt32LE(zlibCrc32(disk.buf.subarray(h, h + 92)), h + 16);
      }
      const r = await readGpt(disk);
      expect(r.valid).toBe(false);
      if (!r.valid)
        expect(r.reason).toBe(
          "invalid GPT: primary header (LBA 1): partitions 1 and 3 overlap; backup header (LBA " + (sectors - 1) + "): partitions 1 and 3 overlap",
        );
    });

    test("a disk that grew: the primary is used, and the misplaced backup reported", async () => {
      const { table, disk } = writeTable(size, ss);
      const grown = new MemDisk(2 * size, ss);
      disk.buf.copy(grown.buf);
      const r = await readGpt(grown);
      if (!r.valid) throw new Error(r.reason);
      expect(r.source).toBe("primary");
      expect(r.table.partitions).toEqual(table.partitions);
      expect(r.problems).toEqual([`backup header (LBA ${2 * sectors - 1}): no "EFI PART" signature`]);
    });

    test("the writer refuses names over 36 UTF-16 code units and indexes over 128", () => {
      const t = smallTable(size, ss);
      t.partitions[0]!.name = "x".repeat(37);
      expect(() => encodeGpt(t)).toThrow("partition name longer than 36 characters");
      const u = smallTable(size, ss);
      u.partitions[1]!.index = 129;
      expect(() => encodeGpt(u)).toThrow("partition index 129 out of 1..128");
    });

    test("the writer refuses overlapping partitions", async () => {
      const t = smallTable(size, ss);
      t.partitions[1]!.firstLba = t.partitions[0]!.lastLba;
      expect(() => encodeGpt(t)).toThrow("partitions 1 and 3 overlap");
    });
  });
}

test("Talos's layout on a 4 GiB disk survives a round trip", async () => {
  const size = 4 * 2 ** 30;
  const plan = planLayout({ name: "mem", size, sectorSize: 512 });
  const table = layoutTable(plan, { size, sectorSize: 512 });
  // a sparse stand-in: only the regions the GPT touches are kept
  const writes = encodeGpt(table);
  const reader = {
    size,
    sectorSize: 512,
    async read(offset: number, length: number) {
      const out = Buffer.alloc(length);
      for (const w of writes) {
        const s = Math.max(offset, w.offset);
        const e = Math.min(offset + length, w.offset + w.data.length);
        if (s < e) w.data.copy(out, s - offset, s - w.offset, e - w.offset);
      }
      return out;
    },
  };
  const r = await readGpt(reader);
  if (!r.valid) throw new Error(r.reason);
  expect(r.table.partitions.map((p) => p.name)).toEqual(["EFI", "BIOS", "BOOT", "META", "STATE", "EPHEMERAL"]);
  expect(r.table).toEqual(table);
});
