// What is already on a disk, in words, so an install refuses a disk in use and
// says why: a partition table (GPT through our reader, or MBR partitions), or a
// filesystem / volume signature written straight onto the whole disk.
import { readGpt, type BlockReader } from "./gpt.ts";
import { formatBytes } from "./units.ts";

interface Signature {
  name: string;
  offset: number;
  magic: Buffer;
}

// Offsets from each format's on-disk description (the superblock's magic field).
const SIGNATURES: Signature[] = [
  { name: "an XFS filesystem", offset: 0, magic: Buffer.from("XFSB") },
  { name: "a LUKS encrypted volume", offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { name: "an LVM2 physical volume", offset: 512 + 24, magic: Buffer.from("LVM2 001") },
  { name: "an ext2/3/4 filesystem", offset: 1024 + 56, magic: Buffer.from([0x53, 0xef]) },
  { name: "a swap area", offset: 4096 - 10, magic: Buffer.from("SWAPSPACE2") },
  { name: "a Btrfs filesystem", offset: 65536 + 64, magic: Buffer.from("_BHRfS_M") },
  { name: "an ISO 9660 image", offset: 32768 + 1, magic: Buffer.from("CD001") },
  { name: "a squashfs image", offset: 0, magic: Buffer.from("hsqs") },
];

/** Human descriptions of what `disk` holds; an empty list means a blank disk. */
export async function describeContents(disk: BlockReader): Promise<string[]> {
  const found: string[] = [];
  const gpt = await readGpt(disk);
  if (gpt.valid) {
    const parts = gpt.table.partitions;
    const list = parts
      .slice(0, 8)
      .map((p) => `${p.index} "${p.name}" ${formatBytes((p.lastLba - p.firstLba + 1) * gpt.table.sectorSize)}`)
      .join(", ");
    found.push(`a GPT with ${parts.length} partition${parts.length === 1 ? "" : "s"}${parts.length ? ` (${list}${parts.length > 8 ? ", …" : ""})` : ""}`);
  } else if (gpt.signature) found.push(`a damaged GPT (${gpt.reason})`);
  const head = await disk.read(0, Math.min(disk.size, 65536 + 4096));
  if (!gpt.valid && !gpt.signature && head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) {
    const types: string[] = [];
    for (let i = 0; i < 4; i++) {
      const e = 446 + i * 16;
      const type = head[e + 4]!;
      if (type !== 0 && head.readUInt32LE(e + 12) !== 0) types.push(`type 0x${type.toString(16).padStart(2, "0")}`);
    }
    if (types.length) found.push(`an MBR partition table with ${types.length} partition${types.length === 1 ? "" : "s"} (${types.join(", ")})`);
  }
  for (const s of SIGNATURES) {
    if (s.offset + s.magic.length <= head.length && head.subarray(s.offset, s.offset + s.magic.length).equals(s.magic)) found.push(s.name);
  }
  return found;
}
