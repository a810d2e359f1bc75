// Discovery over a fake sysfs tree (the same links and attribute files the
// kernel makes) and a fake /dev holding GPT images as regular files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { describeDisk, diskPartitions, discoverDisks, findPartitionByLabel, partitionName } from "../../../src/disks/discover.ts";
import { encodeGpt, gptGeometry, type GptTable } from "../../../src/disks/gpt.ts";
import { randomGuid } from "../../../src/disks/guid.ts";
import { TYPE_EFI_SYSTEM, TYPE_LINUX_DATA } from "../../../src/disks/layout.ts";

let root: string;
let sys: string;
let dev: string;

function file(path: string, content: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content + "\n");
}
function link(path: string, target: string) {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(relative(dirname(path), target), path);
}

/** A block device as the kernel lays it out: the device dir, /sys/block/<name>, its device link. */
function blockDev(devDir: string, name: string, attrs: Record<string, string>, deviceDir?: string) {
  const dir = join(sys, "devices", devDir, name);
  for (const [k, v] of Object.entries(attrs)) file(join(dir, k), v);
  // the kernel's link text climbs to the parent and names the device: "../../../0:0:0:0"
  if (deviceDir) {
    const target = join(sys, "devices", deviceDir);
    symlinkSync(join(relative(dir, dirname(target)), basename(target)), join(dir, "device"));
  }
  link(join(sys, "block", name), dir);
  return dir;
}

function gptImage(path: string, names: [number, string][]) {
  const size = 16 * 2 ** 20;
  const g = gptGeometry(size / 512, 512);
  const table: GptTable = {
    sectorSize: 512,
    sectors: size / 512,
    diskGuid: randomGuid(),
    firstUsableLba: g.firstUsableLba,
    lastUsableLba: g.lastUsableLba,
    partitions: names.map(([index, name], i) => ({
      index,
      type: i === 0 ? TYPE_EFI_SYSTEM : TYPE_LINUX_DATA,
      guid: randomGuid(),
      firstLba: 2048 * (i + 1),
      lastLba: 2048 * (i + 2) - 1,
      attributes: 0n,
      name,
    })),
  };
  const buf = Buffer.alloc(size);
  for (const w of encodeGpt(table)) w.data.copy(buf, w.offset);
  file(path, "");
  writeFileSync(path, buf);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "minos-disks-"));
  sys = join(root, "sys");
  dev = join(root, "dev");
  // virtio-blk: serial in the block dir, model-less
  const vda = blockDev(
    "pci0000:00/0000:00:04.0/virtio2/block",
    "vda",
    {
      size: String(20971520),
      "queue/rotational": "1",
      "queue/logical_block_size": "512",
      removable: "0",
      ro: "0",
      serial: "deadbeef",
    },
    "pci0000:00/0000:00:04.0/virtio2",
  );
  file(join(sys, "devices/pci0000:00/0000:00:04.0/virtio2/modalias"), "virtio:d00000002v00001AF4");
  file(join(vda, "vda1/partition"), "1");
  file(join(vda, "vda3/partition"), "3");
  // NVMe: no "block" element in the path, serial/model/wwid from the controller and namespace
  const nvmeCtl = "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0";
  blockDev(
    nvmeCtl,
    "nvme0n1",
    {
      size: String(3907029168),
      "queue/rotational": "0",
      "queue/logical_block_size": "4096",
      removable: "0",
      ro: "0",
      wwid: "eui.002538b411b2e1a3",
      uuid: "11111111-2222-3333-4444-555555555555",
    },
    nvmeCtl,
  );
  file(join(sys, "devices", nvmeCtl, "model"), "Samsung SSD 980 PRO 2TB");
  file(join(sys, "devices", nvmeCtl, "serial"), "S6B0NL0T123456");
  file(join(sys, "block/nvme0n1/nvme0n1p1/partition"), "1");
  // SATA behind AHCI: transport from the SCSI host's proc_name
  const sdaDev = "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0";
  blockDev(`${sdaDev}/block`, "sda", { size: String(7814037168), "queue/rotational": "1", removable: "0", ro: "0" }, sdaDev);
  file(join(sys, "devices", sdaDev, "model"), "WDC WD40EFRX-68N");
  file(join(sys, "devices", sdaDev, "vendor"), "ATA");
  file(join(sys, "devices", sdaDev, "wwid"), "t10.ATA WDC WD40EFRX");
  file(join(sys, "devices", sdaDev, "modalias"), "scsi:t-0x00");
  file(join(sys, "devices", sdaDev, "type"), "0");
  file(join(sys, "class/scsi_host/host0/proc_name"), "ahci");
  // USB stick: the SCSI device's bus link goes through usb
  const sdbDev = "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0";
  blockDev(`${sdbDev}/block`, "sdb", { size: String(62521344), "queue/rotational": "0", removable: "1", ro: "0" }, sdbDev);
  file(join(sys, "devices", sdbDev, "model"), "Flash Disk");
  file(join(sys, "class/scsi_host/host6/proc_name"), "usb-storage");
  link(join(sys, "bus/scsi/devices/6:0:0:0"), join(sys, "devices", sdbDev));
  // a CD-ROM (SCSI type 5) behind the ATA host
  const srDev = "pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0";
  blockDev(`${srDev}/block`, "sr0", { size: "2097152", "queue/rotational": "1", removable: "1", ro: "0" }, srDev);
  file(join(sys, "devices", srDev, "type"), "5");
  file(join(sys, "class/scsi_host/host1/proc_name"), "ata_piix");
  // virtual devices, and an empty one
  blockDev("virtual/block", "loop0", { size: "4194304", "queue/rotational": "0", ro: "0", removable: "0" });
  blockDev("virtual/block", "zram0", { size: "8388608", "queue/rotational": "0", ro: "0", removable: "0" });
  blockDev("virtual/block", "ram0", { size: "0" });
  // /dev: GPT images for vda (indexes 1 and 3) and nvme0n1
  gptImage(join(dev, "vda"), [
    [1, "EFI"],
    [3, "STATE"],
  ]);
  gptImage(join(dev, "nvme0n1"), [[1, "EPHEMERAL"]]);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("discoverDisks over a fake sysfs", () => {
  test("whole disks sorted by name; loop, zram and ram left out", async () => {
    const disks = await discoverDisks({ sysRoot: sys, devRoot: dev });
    expect(disks.map((d) => d.name)).toEqual(["nvme0n1", "sda", "sdb", "sr0", "vda"]);
  });

  test("virtual devices when asked", async () => {
    const disks = await discoverDisks({ sysRoot: sys, devRoot: dev, includeVirtual: true });
    expect(disks.filter((d) => d.virtual).map((d) => d.name)).toEqual(["loop0", "ram0", "zram0"]);
    expect(disks.find((d) => d.name === "loop0")!.transport).toBe("");
  });

  test("virtio disk: size, serial, modalias, bus path, transport, type", async () => {
    const d = (await describeDisk("vda", { sysRoot: sys, devRoot: dev }))!;
    expect(d).toMatchObject({
      name: "vda",
      devPath: join(dev, "vda"),
      size: 20971520 * 512,
      sectorSize: 512,
      serial: "deadbeef",
      modalias: "virtio:d00000002v00001AF4",
      rotational: true,
      removable: false,
      readonly: false,
      cdrom: false,
      virtual: false,
      transport: "virtio",
      type: "hdd",
      busPath: "/pci0000:00/0000:00:04.0/virtio2",
    });
  });

  test("NVMe: 4096-byte sectors, model, serial, wwid, uuid; Talos's busPath ends at .../nvme", async () => {
    const d = (await describeDisk("nvme0n1", { sysRoot: sys }))!;
    expect(d).toMatchObject({
      size: 3907029168 * 512,
      sectorSize: 4096,
      model: "Samsung SSD 980 PRO 2TB",
      serial: "S6B0NL0T123456",
      wwid: "eui.002538b411b2e1a3",
      uuid: "11111111-2222-3333-4444-555555555555",
      transport: "nvme",
      type: "nvme",
      busPath: "/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme",
    });
  });

  test("SATA (ahci host), USB (bus link through usb), CD-ROM", async () => {
    const sda = (await describeDisk("sda", { sysRoot: sys }))!;
    expect(sda).toMatchObject({
      model: "WDC WD40EFRX-68N",
      vendor: "ATA",
      wwid: "t10.ATA WDC WD40EFRX",
      transport: "sata",
      type: "hdd",
      busPath: "/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0",
    });
    const sdb = (await describeDisk("sdb", { sysRoot: sys }))!;
    expect(sdb).toMatchObject({ transport: "usb", type: "ssd", removable: true, model: "Flash Disk" });
    const sr0 = (await describeDisk("sr0", { sysRoot: sys }))!;
    expect(sr0).toMatchObject({ cdrom: true, transport: "ata" });
  });

  test("a name sysfs does not have is undefined", async () => {
    expect(await describeDisk("vdz", { sysRoot: sys })).toBeUndefined();
  });
});

describe("partitions by GPT label", () => {
  test("entry index → kernel partition name from sysfs (vda1, vda3), read through /dev/<disk>", async () => {
    const { gpt, partitions } = await diskPartitions("vda", { sysRoot: sys, devRoot: dev });
    expect(gpt.valid).toBe(true);
    expect(partitions.map((p) => [p.index, p.name, p.label, p.devPath, p.inKernel, p.offset, p.size])).toEqual([
      [1, "vda1", "EFI", join(dev, "vda1"), true, 2048 * 512, 2048 * 512],
      [3, "vda3", "STATE", join(dev, "vda3"), true, 4096 * 512, 2048 * 512],
    ]);
  });

  test("findPartitionByLabel searches every disk; disks without a readable /dev node are passed over", async () => {
    expect((await findPartitionByLabel("STATE", { sysRoot: sys, devRoot: dev }))?.devPath).toBe(join(dev, "vda3"));
    const eph = await findPartitionByLabel("EPHEMERAL", { sysRoot: sys, devRoot: dev });
    expect([eph?.name, eph?.disk]).toEqual(["nvme0n1p1", "nvme0n1"]);
    expect(await findPartitionByLabel("META", { sysRoot: sys, devRoot: dev })).toBeUndefined();
    expect((await findPartitionByLabel("EFI", { sysRoot: sys, devRoot: dev, disk: "vda" }))?.name).toBe("vda1");
  });

  test("the naming rule for partitions the kernel does not list yet", () => {
    expect(["vda", "sda", "nvme0n1", "mmcblk0", "loop7"].map((d) => partitionName(d, 2))).toEqual(["vda2", "sda2", "nvme0n1p2", "mmcblk0p2", "loop7p2"]);
  });
});
