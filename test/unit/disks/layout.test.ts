// Talos's layout math: order, labels, type GUIDs, sizes, 1 MiB alignment,
// EPHEMERAL taking the rest, and the minimum-size error.
import { describe, expect, test } from "bun:test";
import { gptGeometry } from "../../../src/disks/gpt.ts";
import {
  DiskTooSmallError,
  GiB,
  MiB,
  minimumDiskSize,
  planLayout,
  TYPE_BIOS_BOOT,
  TYPE_EFI_SYSTEM,
  TYPE_LINUX_DATA,
  type PlannedPartition,
} from "../../../src/disks/layout.ts";

const TiB = 2 ** 40;

function checkShape(plan: PlannedPartition[], size: number, ss: number) {
  const align = MiB / ss;
  const g = gptGeometry(size / ss, ss);
  expect(plan.map((p) => p.label)).toEqual(["EFI", "BIOS", "BOOT", "META", "STATE", "EPHEMERAL"]);
  expect(plan.map((p) => p.index)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(plan[0]!.firstLba).toBe(align);
  for (const [i, p] of plan.entries()) {
    expect(p.firstLba % align).toBe(0);
    expect((p.lastLba + 1) % align).toBe(0);
    expect(p.size).toBe((p.lastLba - p.firstLba + 1) * ss);
    if (i > 0) expect(p.firstLba).toBe(plan[i - 1]!.lastLba + 1);
  }
  const last = plan[5]!;
  expect(last.lastLba).toBeLessThanOrEqual(g.lastUsableLba);
  // EPHEMERAL ends less than 1 MiB before the backup GPT: nothing is wasted beyond alignment
  expect(g.lastUsableLba - last.lastLba).toBeLessThan(align);
}

describe("planLayout", () => {
  test("labels, type GUIDs, attributes, sizes and what gets formatted (Talos's layout)", () => {
    const plan = planLayout({ name: "/dev/vda", size: 10 * GiB, sectorSize: 512 });
    expect(plan.map((p) => [p.label, p.type, p.size, p.attributes, p.filesystem])).toEqual([
      ["EFI", TYPE_EFI_SYSTEM, 100 * MiB, 0n, "none"],
      ["BIOS", TYPE_BIOS_BOOT, 1 * MiB, 4n, "none"],
      ["BOOT", TYPE_LINUX_DATA, 1000 * MiB, 0n, "none"],
      ["META", TYPE_LINUX_DATA, 1 * MiB, 0n, "none"],
      ["STATE", TYPE_LINUX_DATA, 100 * MiB, 0n, "xfs"],
      ["EPHEMERAL", TYPE_LINUX_DATA, 10 * GiB - 1203 * MiB - 1 * MiB, 0n, "xfs"],
    ]);
    expect(TYPE_EFI_SYSTEM).toBe("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    expect(TYPE_BIOS_BOOT).toBe("21686148-6449-6E6F-744E-656564454649");
    expect(TYPE_LINUX_DATA).toBe("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
  });

  for (const [size, ss] of [
    [4 * GiB, 512],
    [4 * GiB, 4096],
    [10 * GiB + 12345 * 512, 512],
    [1 * TiB, 512],
    [16 * TiB, 4096],
  ] as const) {
    test(`${size} bytes at ${ss} B/sector: aligned, contiguous, EPHEMERAL takes the rest`, () => {
      const usable = Math.floor(size / ss) * ss;
      checkShape(planLayout({ name: "d", size: usable, sectorSize: ss }), usable, ss);
    });
  }

  test("the minimum disk fits exactly, with EPHEMERAL at 2 GiB", () => {
    for (const ss of [512, 4096]) {
      const min = minimumDiskSize(ss);
      expect(min).toBe(1 * MiB + 1202 * MiB + 2 * GiB + (16 * 1024 + ss));
      const plan = planLayout({ name: "d", size: min, sectorSize: ss });
      expect(plan[5]!.size).toBe(2 * GiB);
      checkShape(plan, min, ss);
    }
  });

  test("one sector short of the minimum: DiskTooSmallError naming both sizes", () => {
    const min = minimumDiskSize(512);
    expect(() => planLayout({ name: "/dev/vdb", size: min - 512, sectorSize: 512 })).toThrow(DiskTooSmallError);
  });

  test("a 1 GiB disk: the message says how big it is and what the install needs", () => {
    let err: unknown;
    try {
      planLayout({ name: "/dev/vdb", size: 1 * GiB, sectorSize: 512 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DiskTooSmallError);
    expect((err as Error).message).toBe(
      "disk /dev/vdb is 1.0 GiB; the install needs at least 3.2 GiB (EFI 100 MiB, BIOS 1 MiB, BOOT 1000 MiB, META 1 MiB, STATE 100 MiB, EPHEMERAL ≥ 2.0 GiB, 1 MiB before the first partition and the backup GPT)",
    );
  });

  test("options: BOOT 2000 MiB (Talos 1.11+) and a smaller EPHEMERAL minimum", () => {
    const plan = planLayout({ name: "d", size: 8 * GiB, sectorSize: 512 }, { bootSize: 2000 * MiB });
    expect(plan[2]!.size).toBe(2000 * MiB);
    expect(minimumDiskSize(512, { ephemeralMinSize: 512 * MiB })).toBe(1 * MiB + 1202 * MiB + 512 * MiB + 16896);
    expect(() => planLayout({ name: "d", size: 8 * GiB, sectorSize: 512 }, { bootSize: 1000 })).toThrow("bootSize must be a positive multiple of 1 MiB");
  });

  test("sector sizes other than 512 and 4096 are refused", () => {
    expect(() => planLayout({ name: "d", size: 8 * GiB, sectorSize: 1024 })).toThrow("logical sector size 1024");
  });
});
