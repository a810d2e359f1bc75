// machine.install.diskSelector matching, as Talos does it, over a table of disks.
import { describe, expect, test } from "bun:test";
import { InvalidArgumentError, NotFoundError } from "../../../src/lib/errors.ts";
import type { BlockDisk } from "../../../src/disks/discover.ts";
import { glob, parseSizeMatcher, selectDisk, type DiskSelector } from "../../../src/disks/selector.ts";
import { parseBytes } from "../../../src/disks/units.ts";

function disk(d: Partial<BlockDisk> & { name: string }): BlockDisk {
  const rotational = d.rotational ?? false;
  const transport = d.transport ?? "virtio";
  return {
    devPath: `/dev/${d.name}`,
    size: 0,
    sectorSize: 512,
    hardwareName: "",
    model: "",
    vendor: "",
    serial: "",
    wwid: "",
    uuid: "",
    modalias: "",
    rotational,
    removable: false,
    readonly: false,
    cdrom: false,
    virtual: false,
    transport,
    type: transport === "nvme" ? "nvme" : transport === "mmc" ? "sd" : rotational ? "hdd" : "ssd",
    busPath: "",
    ...d,
  };
}

const GB = 1e9;
const DISKS: BlockDisk[] = [
  disk({ name: "mmcblk0", size: 32 * GB, transport: "mmc", hardwareName: "SD32G", busPath: "/platform/fe340000.mmc/mmc_host/mmc0/mmc0:0001" }),
  disk({
    name: "nvme0n1",
    size: 2e12,
    transport: "nvme",
    model: "Samsung SSD 980 PRO 2TB",
    serial: "S6B0NL0T123456",
    wwid: "eui.002538b411b2e1a3",
    uuid: "11111111-2222-3333-4444-555555555555",
    busPath: "/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0",
  }),
  disk({
    name: "sda",
    size: 4 * GB,
    transport: "sata",
    rotational: true,
    model: "WDC WD40EFRX",
    serial: "WD-WCC7K0",
    modalias: "scsi:t-0x00",
    busPath: "/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0",
  }),
  disk({
    name: "sdb",
    size: 500 * GB,
    transport: "usb",
    rotational: false,
    model: "Flash Disk",
    busPath: "/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0",
  }),
  disk({ name: "sr0", size: 1 * GB, transport: "sata", cdrom: true, model: "QEMU DVD-ROM" }),
  disk({ name: "vda", size: 10 * GB, transport: "virtio", rotational: true, serial: "deadbeef", busPath: "/pci0000:00/0000:00:04.0/virtio2" }),
  disk({ name: "vdb", size: 20 * GB, transport: "virtio", readonly: true, busPath: "/pci0000:00/0000:00:05.0/virtio3" }),
  disk({ name: "loop0", size: 4 * GB, transport: "", virtual: true }),
];

const pick = (sel: DiskSelector) => selectDisk(sel, DISKS).name;

describe("size parsing (go-humanize units, Talos's operators)", () => {
  test.each([
    ["4GB", 4e9],
    ["4 GB", 4e9],
    ["4gb", 4e9],
    ["4GiB", 4 * 2 ** 30],
    ["1TB", 1e12],
    ["1.5TB", 1.5e12],
    ["512", 512],
    ["10M", 1e7],
    ["10Mi", 10 * 2 ** 20],
    ["2,000KB", 2e6],
    ["1 tib", 2 ** 40],
  ] as const)("%s → %d bytes", (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });
  test.each([
    ["4GB", "==", 4e9],
    [">= 1TB", ">=", 1e12],
    ["<2TB", "<", 2e12],
    ["> 100GB", ">", 1e11],
    ["<= 8GiB", "<=", 8 * 2 ** 30],
    ["== 20GB", "==", 2e10],
  ] as const)("%s → %s %d", (text, op, bytes) => {
    expect(parseSizeMatcher(text)).toEqual({ op, bytes });
  });
  test("a bad size is an InvalidArgumentError naming the field", () => {
    expect(() => parseSizeMatcher(">= lots")).toThrow(InvalidArgumentError);
    expect(() => parseSizeMatcher("10 XB")).toThrow('machine.install.diskSelector.size: unknown size unit "XB" in "10 XB"');
    expect(() => parseSizeMatcher("=> 4GB")).toThrow("machine.install.diskSelector.size");
  });
});

describe("glob (only * is special, as in ryanuber/go-glob)", () => {
  test.each([
    ["*", "", true],
    ["Samsung*", "Samsung SSD", true],
    ["*980*", "Samsung SSD 980 PRO", true],
    ["*PRO", "Samsung SSD 980 PRO", true],
    ["S*D*O", "Samsung SSD 980 PRO", true],
    ["/pci0000:00/*", "/pci0000:00/0000:00:04.0/virtio2", true],
    ["sd?", "sda", false],
    ["sd[a-z]", "sda", false],
    ["WDC", "WDC WD40EFRX", false],
    ["a*a", "a", false],
    ["*x*", "abc", false],
  ] as const)("glob(%p, %p) is %p", (pattern, value, result) => {
    expect(glob(pattern, value)).toBe(result);
  });
});

describe("selectDisk", () => {
  test.each<[string, DiskSelector, string]>([
    ["exact size (== by default, 4GB = 4·10^9)", { size: "4GB" }, "sda"],
    ["size >= 1TB", { size: ">= 1TB" }, "nvme0n1"],
    ["size < 2TB picks the first by name that is selectable", { size: "< 2TB" }, "mmcblk0"],
    ["size > 5GB and < 100GB", { size: "> 15GB", type: "ssd" }, "mmcblk0"],
    ["type nvme", { type: "nvme" }, "nvme0n1"],
    ["type sd (the mmc transport)", { type: "sd" }, "mmcblk0"],
    ["type hdd (rotational)", { type: "hdd" }, "sda"],
    ["type ssd (not rotational: nvme and mmc too, as in Talos)", { type: "ssd", size: "500GB" }, "sdb"],
    ["model glob", { model: "WDC*" }, "sda"],
    ["serial exact", { serial: "deadbeef" }, "vda"],
    ["serial glob", { serial: "S6B0*" }, "nvme0n1"],
    ["wwid", { wwid: "eui.*" }, "nvme0n1"],
    ["uuid", { uuid: "11111111-2222-3333-4444-555555555555" }, "nvme0n1"],
    ["modalias", { modalias: "scsi:*" }, "sda"],
    ["busPath glob", { busPath: "/pci0000:00/0000:00:04.0/*" }, "vda"],
    ["busPath exact", { busPath: "/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0" }, "sda"],
    ["busPath under usb", { busPath: "*usb*" }, "sdb"],
    ["name (kernel name)", { name: "vd*" }, "vda"],
    ["name (/dev path)", { name: "/dev/sdb" }, "sdb"],
    ["name (device/name of an mmc card)", { name: "SD32G" }, "mmcblk0"],
    ["several fields at once", { type: "hdd", size: ">= 5GB", busPath: "/pci0000:00/*" }, "vda"],
  ])("%s", (_, sel, want) => {
    expect(pick(sel)).toBe(want);
  });

  test("read-only disks, CD-ROMs and devices of unknown transport (loop) are never selected", () => {
    expect(() => pick({ size: "20GB" })).toThrow("vdb (18.6 GiB, virtio, ssd): read-only");
    expect(() => pick({ model: "QEMU DVD-ROM" })).toThrow("sr0 (953.7 MiB, sata, ssd): a CD-ROM");
    expect(() => pick({ name: "loop0" })).toThrow("loop0 (3.7 GiB, no transport, ssd): unknown transport");
  });

  test("no match: NotFoundError naming the selector and every candidate with its reason", () => {
    let err: unknown;
    try {
      selectDisk({ size: ">= 4TB", type: "ssd" }, DISKS.slice(1, 3));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(
      'no disk matches the install disk selector (size ">= 4TB", type "ssd"): candidates were ' +
        "nvme0n1 (1.8 TiB, nvme, nvme): size 2000000000000 (1.8 TiB) is not >= 4000000000000; " +
        "sda (3.7 GiB, sata, hdd): size 4000000000 (3.7 GiB) is not >= 4000000000000",
    );
  });

  test("no disks at all says so", () => {
    expect(() => selectDisk({ type: "nvme" }, [])).toThrow('no disk matches the install disk selector (type "nvme"): there are no disks');
  });

  test("an unknown type is an InvalidArgumentError before any disk is looked at", () => {
    expect(() => selectDisk({ type: "floppy" }, DISKS)).toThrow(InvalidArgumentError);
    expect(() => selectDisk({ type: "floppy" }, DISKS)).toThrow('machine.install.diskSelector.type: "floppy" is not one of ssd, hdd, nvme, sd');
  });
});
