// The layout written into sparse image files (no root needed), then checked by
// real tools: util-linux sfdisk (Debian package fdisk) and GPT fdisk's sgdisk
// (package gdisk). Also: refusing a disk that holds something, and wiping it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readSync, rmSync, writeFileSync, openSync, writeSync, closeSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../../../src/disks/device.ts";
import { readGpt } from "../../../src/disks/gpt.ts";
import { writeLayout } from "../../../src/disks/install.ts";
import { DiskTooSmallError, GiB } from "../../../src/disks/layout.ts";
import { describeContents } from "../../../src/disks/probe.ts";
import { FailedPreconditionError } from "../../../src/lib/errors.ts";

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "minos-gpt-img-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(name: string, pkg: string): string {
  const path = Bun.which(name, { PATH: "/usr/sbin:/sbin:/usr/bin:/bin" });
  if (!path) throw new Error(`${name} not found: install the Debian package ${pkg} (apt-get install -y --no-install-recommends ${pkg})`);
  return path;
}
function sh(argv: string[]) {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}
function image(name: string, size: number): string {
  const path = join(dir, name);
  writeFileSync(path, "");
  truncateSync(path, size);
  return path;
}
function head(path: string, n: number): Buffer {
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  return buf;
}
async function layoutOn(path: string, wipe = false) {
  const d = await openDisk(path, { write: true });
  try {
    return await writeLayout(d, { wipe });
  } finally {
    await d.close();
  }
}

describe("a 4 GiB image checked by sfdisk and sgdisk", () => {
  let path: string;
  let result: Awaited<ReturnType<typeof layoutOn>>;
  beforeAll(async () => {
    path = image("disk.img", 4 * GiB);
    result = await layoutOn(path);
  });

  test("sfdisk --json: GPT, disk GUID, every label, type GUID, partition GUID, start and size", () => {
    const r = sh([tool("sfdisk", "fdisk"), "--json", path]);
    expect(r.code).toBe(0);
    const pt = JSON.parse(r.out).partitiontable;
    expect(pt.label).toBe("gpt");
    expect(pt.id).toBe(result.table.diskGuid);
    expect(pt.sectorsize).toBe(512);
    expect(pt.firstlba).toBe(34);
    expect(pt.lastlba).toBe((4 * GiB) / 512 - 34);
    expect(pt.partitions.map((p: Record<string, unknown>) => [p.name, p.type, p.uuid, p.start, p.size, p.attrs ?? ""])).toEqual(
      result.table.partitions.map((p) => [p.name, p.type, p.guid, p.firstLba, p.lastLba - p.firstLba + 1, p.name === "BIOS" ? "LegacyBIOSBootable" : ""]),
    );
    expect(pt.partitions.map((p: { start: number }) => p.start)).toEqual([2048, 206848, 208896, 2256896, 2258944, 2463744]);
  });

  test("sfdisk --verify and sgdisk -v find no problems (CRCs, backup, overlaps)", () => {
    const v = sh([tool("sfdisk", "fdisk"), "--verify", path]);
    expect(v.out).toContain("No errors detected.");
    expect(v.code).toBe(0);
    const g = sh([tool("sgdisk", "gdisk"), "-v", path]);
    expect(g.out).toContain("No problems found.");
    expect(g.code).toBe(0);
  });

  test("sgdisk -i: type names and the legacy BIOS bootable attribute", () => {
    const sg = tool("sgdisk", "gdisk");
    expect(sh([sg, "-i", "1", path]).out).toContain("(EFI system partition)");
    const bios = sh([sg, "-i", "2", path]).out;
    expect(bios).toContain("(BIOS boot partition)");
    expect(bios).toContain("Attribute flags: 0000000000000004");
    expect(sh([sg, "-i", "5", path]).out).toMatch(/Linux filesystem[\s\S]*Partition name: 'STATE'/);
  });

  test("with the primary header smashed, sgdisk complains and our reader takes the backup", async () => {
    const copy = join(dir, "smashed.img");
    sh(["cp", "--sparse=always", path, copy]);
    const fd = openSync(copy, "r+");
    writeSync(fd, Buffer.from("garbage!"), 0, 8, 512 + 24);
    closeSync(fd);
    const g = sh([tool("sgdisk", "gdisk"), "-v", copy]);
    expect(g.out).toMatch(/main GPT header|CRC/i);
    const d = await openDisk(copy);
    const r = await readGpt(d);
    await d.close();
    expect(r.valid && r.source).toBe("backup");
    if (r.valid) expect(r.table.partitions.map((p) => p.guid)).toEqual(result.table.partitions.map((p) => p.guid));
  });

  test("a second layout without wipe is refused, naming what is there; the disk is left as it was", async () => {
    const before = head(path, 34 * 512);
    let err: unknown;
    try {
      await layoutOn(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toBe(
      `disk ${path} is not empty: it holds a GPT with 6 partitions (1 "EFI" 100 MiB, 2 "BIOS" 1 MiB, 3 "BOOT" 1000 MiB, 4 "META" 1 MiB, 5 "STATE" 100 MiB, 6 "EPHEMERAL" 2.8 GiB); set wipe to erase it`,
    );
    expect(head(path, 34 * 512).equals(before)).toBe(true);
  });

  test("with wipe: replaced, a new disk GUID, and the tools still agree", async () => {
    const again = await layoutOn(path, true);
    expect(again.replaced).toEqual([expect.stringMatching(/^a GPT with 6 partitions/)]);
    expect(again.table.diskGuid).not.toBe(result.table.diskGuid);
    expect(JSON.parse(sh([tool("sfdisk", "fdisk"), "--json", path]).out).partitiontable.id).toBe(again.table.diskGuid);
    expect(sh([tool("sgdisk", "gdisk"), "-v", path]).out).toContain("No problems found.");
  });
});

describe("what is on a disk", () => {
  test("a blank image holds nothing", async () => {
    const d = await openDisk(image("blank.img", 64 * 2 ** 20));
    expect(await describeContents(d)).toEqual([]);
    await d.close();
  });

  test("an XFS filesystem made by mkfs.xfs on the whole disk is named, and refused without wipe", async () => {
    const path = image("xfs.img", 4 * GiB);
    const r = sh([tool("mkfs.xfs", "xfsprogs"), "-q", "-f", path]);
    expect(r.code).toBe(0);
    const d = await openDisk(path);
    expect(await describeContents(d)).toEqual(["an XFS filesystem"]);
    await d.close();
    await expect(layoutOn(path)).rejects.toThrow(`disk ${path} is not empty: it holds an XFS filesystem; set wipe to erase it`);
    await layoutOn(path, true);
    const d2 = await openDisk(path);
    expect((await describeContents(d2))[0]).toMatch(/^a GPT with 6 partitions/);
    await d2.close();
  });

  test("an MBR partition table written by sfdisk is named", async () => {
    const path = image("mbr.img", 64 * 2 ** 20);
    const r = Bun.spawnSync([tool("sfdisk", "fdisk"), "-q", path], { stdin: Buffer.from("label: dos\n,16M,83\n,,8e\n") });
    expect(r.exitCode).toBe(0);
    const d = await openDisk(path);
    expect(await describeContents(d)).toEqual(["an MBR partition table with 2 partitions (type 0x83, type 0x8e)"]);
    await d.close();
  });

  test("a disk too small is refused before anything is written", async () => {
    const path = image("small.img", 1 * GiB);
    await expect(layoutOn(path)).rejects.toBeInstanceOf(DiskTooSmallError);
    const d = await openDisk(path);
    expect(await describeContents(d)).toEqual([]);
    await d.close();
  });
});
