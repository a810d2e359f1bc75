// GUIDs as GPT stores them: the first three fields little-endian, the last
// eight bytes as written ("mixed endian"). Strings are canonical upper case, as
// sgdisk and sfdisk print them.

const GUID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

export const ZERO_GUID = "00000000-0000-0000-0000-000000000000";

/** Upper-cases and checks a GUID string; throws on anything else. */
export function normalizeGuid(guid: string): string {
  const g = guid.toUpperCase();
  if (!GUID_RE.test(g)) throw new Error(`not a GUID: ${guid}`);
  return g;
}

/** A random (version 4) GUID, for disk and partition GUIDs. */
export function randomGuid(): string {
  return crypto.randomUUID().toUpperCase();
}

/** Writes `guid` as 16 on-disk bytes at `buf[offset]`. */
export function writeGuid(buf: Buffer, offset: number, guid: string): void {
  const hex = normalizeGuid(guid).replaceAll("-", "");
  const raw = Buffer.from(hex, "hex");
  buf.writeUInt32LE(raw.readUInt32BE(0), offset);
  buf.writeUInt16LE(raw.readUInt16BE(4), offset + 4);
  buf.writeUInt16LE(raw.readUInt16BE(6), offset + 6);
  raw.copy(buf, offset + 8, 8, 16);
}

/** Reads 16 on-disk bytes at `buf[offset]` as a GUID string. */
export function readGuid(buf: Buffer, offset: number): string {
  const raw = Buffer.alloc(16);
  raw.writeUInt32BE(buf.readUInt32LE(offset), 0);
  raw.writeUInt16BE(buf.readUInt16LE(offset + 4), 4);
  raw.writeUInt16BE(buf.readUInt16LE(offset + 6), 6);
  buf.copy(raw, 8, offset + 8, offset + 16);
  const h = raw.toString("hex").toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
