// Block-device ioctls the disk layer needs and node:fs does not offer: the
// device's size in bytes (BLKGETSIZE64), its logical sector size (BLKSSZGET),
// asking the kernel to re-read the partition table (BLKRRPART), and adding or
// removing one partition by hand (BLKPG) when the table cannot be re-read as a
// whole because a partition is in use. The fd comes from node:fs (open the
// whole-disk node); these calls only take it. And flock(2) on the whole disk,
// which udevd honours: while it is held udevd neither probes the disk nor
// re-reads its table behind our back (systemd's "locking block device access").
import { check, errno, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  ioctl: { args: [T.i32, T.u64, T.ptr], returns: T.i32 },
  flock: { args: [T.i32, T.i32], returns: T.i32 },
});

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;

// <linux/fs.h>: _IO(0x12, n) and _IOR(0x12, 114, size_t) on x86-64.
const BLKRRPART = 0x125fn;
const BLKSSZGET = 0x1268n;
const BLKPG = 0x1269n;
const BLKGETSIZE64 = 0x80081272n;

// <linux/blkpg.h>
const BLKPG_ADD_PARTITION = 1;
const BLKPG_DEL_PARTITION = 2;
/** struct blkpg_ioctl_arg on x86-64: int op, int flags, int datalen, (pad), void *data. */
const BLKPG_ARG_SIZE = 24;
/** struct blkpg_partition: long long start, long long length, int pno, char devname[64], char volname[64] (padded to 8). */
const BLKPG_PARTITION_SIZE = 152;

/** The size of the block device behind `fd`, in bytes. */
export function blockDeviceSize(fd: number): number {
  const out = new BigUint64Array(1);
  check(sym().ioctl(fd, BLKGETSIZE64, ptr(out)), "ioctl(BLKGETSIZE64)");
  return Number(out[0]!);
}

/** The logical sector size of the block device behind `fd` (512 or 4096). */
export function logicalSectorSize(fd: number): number {
  const out = new Int32Array(1);
  check(sym().ioctl(fd, BLKSSZGET, ptr(out)), "ioctl(BLKSSZGET)");
  return out[0]!;
}

/** BLKRRPART: the kernel drops the disk's partitions and scans its table again. EBUSY while one is open. */
export function rereadPartitionTable(fd: number): void {
  check(sym().ioctl(fd, BLKRRPART, ptr(new Uint8Array(8))), "ioctl(BLKRRPART)");
}

function blkpg(fd: number, op: number, pno: number, start: number, length: number, what: string): void {
  const part = Buffer.alloc(BLKPG_PARTITION_SIZE);
  part.writeBigInt64LE(BigInt(start), 0);
  part.writeBigInt64LE(BigInt(length), 8);
  part.writeInt32LE(pno, 16);
  const arg = Buffer.alloc(BLKPG_ARG_SIZE);
  arg.writeInt32LE(op, 0);
  arg.writeInt32LE(0, 4);
  arg.writeInt32LE(BLKPG_PARTITION_SIZE, 8);
  arg.writeBigUInt64LE(BigInt(ptr(part)), 16);
  check(sym().ioctl(fd, BLKPG, ptr(arg)), `ioctl(BLKPG ${what} ${pno})`);
}

/** BLKPG_ADD_PARTITION: partition number `pno` at byte offset `start`, `length` bytes. */
export function addPartition(fd: number, pno: number, start: number, length: number): void {
  blkpg(fd, BLKPG_ADD_PARTITION, pno, start, length, "add");
}

/** BLKPG_DEL_PARTITION of partition number `pno` (ENXIO when it does not exist, EBUSY when in use). */
export function deletePartition(fd: number, pno: number): void {
  blkpg(fd, BLKPG_DEL_PARTITION, pno, 0, 0, "del");
}

/** flock(LOCK_EX | LOCK_NB): true when taken, false when someone else holds it (never blocks). */
export function tryLockExclusive(fd: number): boolean {
  if (sym().flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const e = errno();
  if (e === EWOULDBLOCK) return false;
  throw new SysError("flock(LOCK_EX)", e);
}

/** flock(LOCK_UN). */
export function unlock(fd: number): void {
  check(sym().flock(fd, LOCK_UN), "flock(LOCK_UN)");
}
