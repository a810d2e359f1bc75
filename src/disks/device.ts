// A disk opened for the GPT code: a block device (size and logical sector size
// from the kernel's ioctls) or a regular image file (its length; 512-byte
// sectors unless told otherwise). Reads and writes go through node:fs's
// asynchronous calls, so PID 1's event loop is not held while the disk works.
import { constants, promises as fsp, type Stats } from "node:fs";
import { blockDeviceSize, logicalSectorSize } from "../sys/blkdev.ts";
import type { BlockReader } from "./gpt.ts";

export interface Disk extends BlockReader {
  readonly path: string;
  readonly fd: number;
  readonly isBlockDevice: boolean;
  write(offset: number, data: Buffer): Promise<void>;
  /** fsync(2): the data is on the medium (for a block device: out of the page cache). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDiskOptions {
  write?: boolean;
  /** O_EXCL on a block device: fails with EBUSY while a partition is mounted or otherwise claimed. */
  exclusive?: boolean;
  /** For an image file: the sector size to assume (default 512). */
  sectorSize?: number;
}

export async function openDisk(path: string, opts: OpenDiskOptions = {}): Promise<Disk> {
  let flags = opts.write ? constants.O_RDWR : constants.O_RDONLY;
  if (opts.exclusive) flags |= constants.O_EXCL;
  const handle = await fsp.open(path, flags);
  try {
    const st: Stats = await handle.stat();
    let size: number;
    let sectorSize: number;
    if (st.isBlockDevice()) {
      size = blockDeviceSize(handle.fd);
      sectorSize = logicalSectorSize(handle.fd);
    } else if (st.isFile()) {
      size = st.size;
      sectorSize = opts.sectorSize ?? 512;
    } else throw new Error(`${path} is neither a block device nor a regular file`);
    return {
      path,
      fd: handle.fd,
      isBlockDevice: st.isBlockDevice(),
      size,
      sectorSize,
      async read(offset, length) {
        const buf = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) throw new Error(`${path}: short read at byte ${offset + done} (wanted ${length} from ${offset})`);
          done += bytesRead;
        }
        return buf;
      },
      async write(offset, data) {
        if (offset < 0 || offset + data.length > size) throw new Error(`${path}: write of ${data.length} bytes at ${offset} past the end (${size})`);
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done);
          done += bytesWritten;
        }
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Zeroes `length` bytes at `offset`, in 1 MiB writes. */
export async function zeroRange(disk: Disk, offset: number, length: number): Promise<void> {
  const chunk = Buffer.alloc(Math.min(length, 1 << 20));
  for (let done = 0; done < length; done += chunk.length) {
    const n = Math.min(chunk.length, length - done);
    await disk.write(offset + done, n === chunk.length ? chunk : chunk.subarray(0, n));
  }
}
