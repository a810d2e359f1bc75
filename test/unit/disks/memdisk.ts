// An in-memory disk for the GPT tests: a Buffer with the reader interface.
import type { BlockReader } from "../../../src/disks/gpt.ts";

export class MemDisk implements BlockReader {
  readonly buf: Buffer;
  constructor(
    readonly size: number,
    readonly sectorSize = 512,
  ) {
    this.buf = Buffer.alloc(size);
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) throw new Error(`read past the end: ${offset}+${length}`);
    return Buffer.from(this.buf.subarray(offset, offset + length));
  }
  apply(writes: { offset: number; data: Buffer }[]): this {
    for (const w of writes) w.data.copy(this.buf, w.offset);
    return this;
  }
}
