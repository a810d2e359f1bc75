// src/sys/blkdev.ts against real loop devices (root): sizes, sector sizes,
// BLKPG add/delete with their errnos, BLKRRPART, and flock as udevd sees it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { addPartition, blockDeviceSize, deletePartition, logicalSectorSize, rereadPartitionTable, tryLockExclusive, unlock } from "../../../src/sys/blkdev.ts";
import { SysError } from "../../../src/sys/errno.ts";

setDefaultTimeout(30_000);
const MiB = 2 ** 20;
let dir: string;
const loops: string[] = [];
const fds: number[] = [];

function sh(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout.toString();
}
function attach(size: number, sectorSize = 512): string {
  const img = join(dir, `b${loops.length}.img`);
  writeFileSync(img, "");
  truncateSync(img, size);
  const dev = sh(["losetup", "--find", "--show", "--partscan", ...(sectorSize === 512 ? [] : ["--sector-size", String(sectorSize)]), img]).trim();
  loops.push(dev);
  return dev;
}
function open(path: string): number {
  const fd = openSync(path, "r+");
  fds.push(fd);
  return fd;
}
const errnoOf = (fn: () => void) => {
  try {
    fn();
  } catch (e) {
    return e instanceof SysError ? e.code : String(e);
  }
  return "no error";
};

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("this test needs root (losetup)");
  if (!Bun.which("losetup", { PATH: "/usr/sbin:/sbin:/usr/bin:/bin" })) throw new Error("losetup not found: install the Debian package mount");
  dir = mkdtempSync(join(tmpdir(), `minos-blkdev-${process.pid}-`));
});

afterAll(() => {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // closed by the test
    }
  }
  for (const dev of loops) Bun.spawnSync(["losetup", "-d", dev]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("block device ioctls", () => {
  test("BLKGETSIZE64 and BLKSSZGET: 512 and 4096-byte loop devices", () => {
    const a = open(attach(64 * MiB));
    expect(blockDeviceSize(a)).toBe(64 * MiB);
    expect(logicalSectorSize(a)).toBe(512);
    const b = open(attach(64 * MiB, 4096));
    expect(blockDeviceSize(b)).toBe(64 * MiB);
    expect(logicalSectorSize(b)).toBe(4096);
  });

  test("on a regular file the ioctls fail with ENOTTY, named", () => {
    const f = join(dir, "plain");
    writeFileSync(f, "x");
    const fd = open(f);
    expect(() => blockDeviceSize(fd)).toThrow("ioctl(BLKGETSIZE64): ENOTTY (Inappropriate ioctl for device)");
  });

  test("BLKPG adds a partition the kernel shows in sysfs, deletes it; ENXIO for one that is not there", () => {
    const dev = attach(64 * MiB);
    const fd = open(dev);
    const name = basename(dev);
    addPartition(fd, 2, 1 * MiB, 8 * MiB);
    expect(sh(["cat", `/sys/block/${name}/${name}p2/start`, `/sys/block/${name}/${name}p2/size`])).toBe(`${MiB / 512}\n${(8 * MiB) / 512}\n`);
    expect(errnoOf(() => addPartition(fd, 3, 4 * MiB, 8 * MiB))).toBe("EBUSY"); // overlaps partition 2
    deletePartition(fd, 2);
    expect(Bun.spawnSync(["test", "-e", `/sys/block/${name}/${name}p2`]).exitCode).toBe(1);
    expect(errnoOf(() => deletePartition(fd, 2))).toBe("ENXIO");
  });

  test("BLKRRPART drops partitions the on-disk table does not have; EBUSY while one is open", () => {
    const dev = attach(64 * MiB);
    const fd = open(dev);
    const name = basename(dev);
    addPartition(fd, 1, 1 * MiB, 8 * MiB);
    const part = openSync(`${dev}p1`, "r");
    expect(errnoOf(() => rereadPartitionTable(fd))).toBe("EBUSY");
    closeSync(part);
    rereadPartitionTable(fd); // a blank disk: no table, so no partitions
    expect(Bun.spawnSync(["test", "-e", `/sys/block/${name}/${name}p1`]).exitCode).toBe(1);
  });

  test("flock: a second open file description cannot take the lock until it is released", () => {
    const dev = attach(16 * MiB);
    const a = open(dev);
    const b = open(dev);
    expect(tryLockExclusive(a)).toBe(true);
    expect(tryLockExclusive(b)).toBe(false);
    unlock(a);
    expect(tryLockExclusive(b)).toBe(true);
    unlock(b);
  });
});
