// The GUID Partition Table (UEFI specification, chapter 5), written and read
// by minos itself: there is no sgdisk in the rootfs.
//
// On disk: LBA 0 a protective MBR (one partition of type 0xEE covering the
// disk), LBA 1 the primary header, LBA 2.. the entry array (128 entries of 128
// bytes = 16 KiB: 32 sectors of 512 bytes, 4 of 4096), and at the end of the
// disk the same entry array followed by the backup header in the last LBA.
// Both headers carry a CRC-32 of themselves and of the entry array.
import { crc32 } from "./crc32.ts";
import { readGuid, writeGuid, ZERO_GUID } from "./guid.ts";

export const GPT_SIGNATURE = "EFI PART";
const REVISION_1_0 = 0x00010000;
const HEADER_SIZE = 92;
export const ENTRY_COUNT = 128;
export const ENTRY_SIZE = 128;
const NAME_CHARS = 36;

/** One used entry of the array. `index` is 1-based: the kernel's partition number. */
export interface GptPartition {
  index: number;
  type: string;
  guid: string;
  /** First and last LBA, both inclusive. */
  firstLba: number;
  lastLba: number;
  attributes: bigint;
  name: string;
}

export interface GptTable {
  sectorSize: number;
  /** The disk's size in sectors. */
  sectors: number;
  diskGuid: string;
  firstUsableLba: number;
  lastUsableLba: number;
  partitions: GptPartition[];
}

/** What a reader needs from a disk or an image file. */
export interface BlockReader {
  /** Bytes. */
  readonly size: number;
  readonly sectorSize: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export type GptReadResult =
  | {
      valid: true;
      table: GptTable;
      /** Which header the table came from. */
      source: "primary" | "backup";
      /** What is wrong with the other copy (empty when both are good). */
      problems: string[];
    }
  | {
      valid: false;
      /** "no GPT …" when neither header has the signature, else what is wrong with each. */
      reason: string;
      /** True when a GPT signature was seen (a damaged table rather than none). */
      signature: boolean;
    };

/** Where things go on a disk of `sectors` sectors. */
export function gptGeometry(sectors: number, sectorSize: number) {
  const entrySectors = Math.ceil((ENTRY_COUNT * ENTRY_SIZE) / sectorSize);
  const backupHeaderLba = sectors - 1;
  const backupEntriesLba = backupHeaderLba - entrySectors;
  return {
    entrySectors,
    primaryEntriesLba: 2,
    firstUsableLba: 2 + entrySectors,
    lastUsableLba: backupEntriesLba - 1,
    backupEntriesLba,
    backupHeaderLba,
  };
}

/** Byte offset and data of every write that puts `table` on a disk. */
export interface DiskWrite {
  offset: number;
  data: Buffer;
}

function encodeEntries(table: GptTable): Buffer {
  const entries = Buffer.alloc(ENTRY_COUNT * ENTRY_SIZE);
  for (const p of table.partitions) {
    if (p.index < 1 || p.index > ENTRY_COUNT) throw new Error(`partition index ${p.index} out of 1..${ENTRY_COUNT}`);
    if (p.name.length > NAME_CHARS) throw new Error(`partition name longer than ${NAME_CHARS} characters: ${p.name}`);
    const o = (p.index - 1) * ENTRY_SIZE;
    writeGuid(entries, o, p.type);
    writeGuid(entries, o + 16, p.guid);
    entries.writeBigUInt64LE(BigInt(p.firstLba), o + 32);
    entries.writeBigUInt64LE(BigInt(p.lastLba), o + 40);
    entries.writeBigUInt64LE(p.attributes, o + 48);
    entries.write(p.name, o + 56, NAME_CHARS * 2, "utf16le");
  }
  return entries;
}

function encodeHeader(table: GptTable, myLba: number, alternateLba: number, entriesLba: number, entriesCrc: number): Buffer {
  const h = Buffer.alloc(table.sectorSize);
  h.write(GPT_SIGNATURE, 0, "latin1");
  h.writeUInt32LE(REVISION_1_0, 8);
  h.writeUInt32LE(HEADER_SIZE, 12);
  h.writeBigUInt64LE(BigInt(myLba), 24);
  h.writeBigUInt64LE(BigInt(alternateLba), 32);
  h.writeBigUInt64LE(BigInt(table.firstUsableLba), 40);
  h.writeBigUInt64LE(BigInt(table.lastUsableLba), 48);
  writeGuid(h, 56, table.diskGuid);
  h.writeBigUInt64LE(BigInt(entriesLba), 72);
  h.writeUInt32LE(ENTRY_COUNT, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, HEADER_SIZE)), 16);
  return h;
}

/** The protective MBR: one 0xEE partition from LBA 1 to the end (capped at 2^32-1 sectors). */
export function protectiveMbr(table: GptTable): Buffer {
  const mbr = Buffer.alloc(table.sectorSize);
  const e = 446;
  mbr[e] = 0x00; // not bootable
  mbr.set([0x00, 0x02, 0x00], e + 1); // CHS of LBA 1
  mbr[e + 4] = 0xee;
  mbr.set([0xff, 0xff, 0xff], e + 5);
  mbr.writeUInt32LE(1, e + 8);
  mbr.writeUInt32LE(Math.min(table.sectors - 1, 0xffffffff), e + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** Checks what would make the table unusable; throws with the reason. */
export function checkTable(table: GptTable): void {
  const g = gptGeometry(table.sectors, table.sectorSize);
  if (table.firstUsableLba < g.firstUsableLba || table.lastUsableLba > g.lastUsableLba || table.firstUsableLba > table.lastUsableLba)
    throw new Error(`usable LBAs ${table.firstUsableLba}..${table.lastUsableLba} do not fit a disk of ${table.sectors} sectors`);
  const sorted = [...table.partitions].sort((a, b) => a.firstLba - b.firstLba);
  const seen = new Set<number>();
  let prev: GptPartition | undefined;
  for (const p of sorted) {
    if (seen.has(p.index)) throw new Error(`partition index ${p.index} used twice`);
    seen.add(p.index);
    if (p.type === ZERO_GUID) throw new Error(`partition ${p.index} has the unused type GUID`);
    if (p.firstLba > p.lastLba) throw new Error(`partition ${p.index} ends (${p.lastLba}) before it starts (${p.firstLba})`);
    if (p.firstLba < table.firstUsableLba || p.lastLba > table.lastUsableLba)
      throw new Error(`partition ${p.index} (${p.firstLba}..${p.lastLba}) lies outside the usable LBAs ${table.firstUsableLba}..${table.lastUsableLba}`);
    if (prev && p.firstLba <= prev.lastLba) throw new Error(`partitions ${prev.index} and ${p.index} overlap`);
    prev = p;
  }
}

/** Every write that puts `table` on the disk: MBR + primary header + entries, backup entries + header. */
export function encodeGpt(table: GptTable): DiskWrite[] {
  checkTable(table);
  const ss = table.sectorSize;
  const g = gptGeometry(table.sectors, ss);
  const entries = encodeEntries(table);
  const entriesCrc = crc32(entries);
  const entriesPadded = Buffer.alloc(g.entrySectors * ss);
  entries.copy(entriesPadded);
  const primary = Buffer.concat([protectiveMbr(table), encodeHeader(table, 1, g.backupHeaderLba, g.primaryEntriesLba, entriesCrc), entriesPadded]);
  const backup = Buffer.concat([entriesPadded, encodeHeader(table, g.backupHeaderLba, 1, g.backupEntriesLba, entriesCrc)]);
  return [
    { offset: 0, data: primary },
    { offset: g.backupEntriesLba * ss, data: backup },
  ];
}

function u64(buf: Buffer, offset: number): number {
  const v = buf.readBigUInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(v);
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

type HeaderCheck = { ok: true; table: GptTable; alternateLba: number } | { ok: false; reason: string; signature: boolean };

/** Reads and validates the header at `lba` and the entry array it points to. */
async function readHeader(disk: BlockReader, lba: number, which: string): Promise<HeaderCheck> {
  const ss = disk.sectorSize;
  const sectors = Math.floor(disk.size / ss);
  const at = `${which} header (LBA ${lba})`;
  if (lba < 1 || lba >= sectors) return { ok: false, reason: `${at}: outside a disk of ${sectors} sectors`, signature: false };
  const h = await disk.read(lba * ss, ss);
  if (h.toString("latin1", 0, 8) !== GPT_SIGNATURE) return { ok: false, reason: `${at}: no "EFI PART" signature`, signature: false };
  const fail = (reason: string): HeaderCheck => ({ ok: false, reason: `${at}: ${reason}`, signature: true });
  const size = h.readUInt32LE(12);
  if (size < HEADER_SIZE || size > ss) return fail(`header size ${size} out of ${HEADER_SIZE}..${ss}`);
  const stored = h.readUInt32LE(16);
  const copy = Buffer.from(h.subarray(0, size));
  copy.writeUInt32LE(0, 16);
  const computed = crc32(copy);
  if (stored !== computed) return fail(`header CRC mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
  const myLba = u64(h, 24);
  if (myLba !== lba) return fail(`header says it is at LBA ${myLba}`);
  const count = h.readUInt32LE(80);
  const entrySize = h.readUInt32LE(84);
  if (entrySize < 128 || (entrySize & (entrySize - 1)) !== 0) return fail(`entry size ${entrySize} is not 128 × 2^n`);
  if (count === 0 || count * entrySize > 1 << 24) return fail(`${count} entries of ${entrySize} bytes`);
  const entriesLba = u64(h, 72);
  const entriesBytes = count * entrySize;
  if (entriesLba < 2 || entriesLba + Math.ceil(entriesBytes / ss) > sectors) return fail(`entry array at LBA ${entriesLba} lies outside the disk`);
  const entries = await disk.read(entriesLba * ss, entriesBytes);
  const entriesStored = h.readUInt32LE(88);
  const entriesComputed = crc32(entries);
  if (entriesStored !== entriesComputed) return fail(`entry array CRC mismatch (stored ${hex(entriesStored)}, computed ${hex(entriesComputed)})`);
  const partitions: GptPartition[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * entrySize;
    const type = readGuid(entries, o);
    if (type === ZERO_GUID) continue;
    const raw = entries.toString("utf16le", o + 56, o + 56 + NAME_CHARS * 2);
    const nul = raw.indexOf("\0");
    partitions.push({
      index: i + 1,
      type,
      guid: readGuid(entries, o + 16),
      firstLba: u64(entries, o + 32),
      lastLba: u64(entries, o + 40),
      attributes: entries.readBigUInt64LE(o + 48),
      name: nul === -1 ? raw : raw.slice(0, nul),
    });
  }
  const table: GptTable = {
    sectorSize: ss,
    sectors,
    diskGuid: readGuid(h, 56),
    firstUsableLba: u64(h, 40),
    lastUsableLba: u64(h, 48),
    partitions,
  };
  try {
    checkTable(table);
  } catch (e) {
    return fail((e as Error).message);
  }
  return { ok: true, table, alternateLba: u64(h, 32) };
}

/**
 * Reads the GPT of a disk: the primary header, else the backup one (at the
 * LBA the primary names when only its entry array is bad, else the last LBA).
 */
export async function readGpt(disk: BlockReader): Promise<GptReadResult> {
  const sectors = Math.floor(disk.size / disk.sectorSize);
  if (sectors < 3 + 2 * gptGeometry(sectors, disk.sectorSize).entrySectors)
    return { valid: false, reason: `no GPT: the disk has only ${sectors} sectors`, signature: false };
  const primary = await readHeader(disk, 1, "primary");
  const lastLba = sectors - 1;
  const backup = await readHeader(disk, lastLba, "backup");
  if (primary.ok) {
    const problems: string[] = [];
    if (!backup.ok) problems.push(backup.reason);
    else if (primary.alternateLba !== lastLba) problems.push(`primary header names its backup at LBA ${primary.alternateLba}, not the last LBA ${lastLba}`);
    return { valid: true, table: primary.table, source: "primary", problems };
  }
  if (backup.ok) return { valid: true, table: backup.table, source: "backup", problems: [primary.reason] };
  if (!primary.signature && !backup.signature) return { valid: false, reason: 'no GPT: no "EFI PART" signature at LBA 1 or at the last LBA', signature: false };
  return { valid: false, reason: `invalid GPT: ${primary.reason}; ${backup.reason}`, signature: true };
}
