// Install onto real block devices, as root: a sparse image attached with
// `losetup --find --show --partscan`, our GPT and BLKRRPART, the real mkfs.xfs
// (Debian xfsprogs), discovery over the real /sys and /dev, a file written and
// fsynced on STATE inside a private mount namespace, and xfs_repair on a clean,
// a corrupted and a dirty-log filesystem. Every loop device is detached and
// every image removed in afterAll, whatever failed.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { diskPartitions, discoverDisks, findPartitionByLabel } from "../../../src/disks/discover.ts";
import { repairXfs, type Runner } from "../../../src/disks/format.ts";
import { install, type InstallResult } from "../../../src/disks/install.ts";
import { ensurePartitionDevices } from "../../../src/disks/kernel.ts";
import { FailedPreconditionError } from "../../../src/lib/errors.ts";

setDefaultTimeout(60_000);
const GiB = 2 ** 30;
const PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

function need(name: string, pkg: string): string {
  const p = Bun.which(name, { PATH });
  if (!p) throw new Error(`${name} not found: this test needs the Debian package ${pkg}`);
  return p;
}

/** What init would hand in: spawn, wait, stdout+stderr together. */
const run: Runner = async (argv) => {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { PATH } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, output: out + err };
};
const sh = async (argv: string[]) => {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}: ${r.output}`);
  return r.output;
};

let dir: string;
const loops: string[] = [];
const children: Bun.Subprocess[] = [];
let mkfs: string;
let xfsRepair: string;

async function attach(size: number, sectorSize = 512): Promise<string> {
  const img = join(dir, `disk${loops.length}.img`);
  writeFileSync(img, "");
  truncateSync(img, size);
  const args = ["losetup", "--find", "--show", "--partscan"];
  if (sectorSize !== 512) args.push("--sector-size", String(sectorSize));
  const dev = (await sh([...args, img])).trim();
  loops.push(dev);
  return dev;
}

/**
 * BLKRRPART suffices when the kernel parses GPTs (CONFIG_EFI_PARTITION=y);
 * this test host's kernel does not, and then install adds them with BLKPG.
 */
async function expectedReread(): Promise<"BLKRRPART" | "BLKPG"> {
  const r = await run(["sh", "-c", "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)"]);
  if (!/^CONFIG_EFI_PARTITION=/m.test(r.output) && !/^# CONFIG_EFI_PARTITION is not set/m.test(r.output))
    throw new Error("cannot tell whether the kernel parses GPTs: no /proc/config.gz or /boot/config-$(uname -r)");
  return /^CONFIG_EFI_PARTITION=y/m.test(r.output) ? "BLKRRPART" : "BLKPG";
}

/** Runs a shell script in a private mount namespace: its mounts vanish with it. */
const inMountNs = (script: string) => sh(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script]);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("this test needs root (losetup, mount)");
  for (const [n, pkg] of [
    ["losetup", "mount"],
    ["unshare", "util-linux"],
    ["sfdisk", "fdisk"],
    ["blkid", "util-linux"],
    ["xfs_db", "xfsprogs"],
    ["xfs_io", "xfsprogs"],
  ])
    need(n!, pkg!);
  mkfs = need("mkfs.xfs", "xfsprogs");
  xfsRepair = need("xfs_repair", "xfsprogs");
  dir = mkdtempSync(join(tmpdir(), `minos-disks-${process.pid}-`));
});

afterAll(async () => {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
      await c.exited;
    } catch {
      // already gone
    }
  }
  for (const dev of loops) await run(["losetup", "-d", dev]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("install onto a 4 GiB loop device (512-byte sectors)", () => {
  let disk: string;
  let name: string;
  let result: InstallResult;
  let state: string;
  const mnt = () => join(dir, "mnt");

  beforeAll(async () => {
    disk = await attach(4 * GiB);
    name = basename(disk);
    const lines: string[] = [];
    result = await install({ disk, wipe: false, run, mkfs, log: (l) => lines.push(l) });
    state = result.partitions.find((p) => p.label === "STATE")!.device;
    await sh(["mkdir", "-p", mnt()]);
  });

  test("the kernel took the table (BLKRRPART, or BLKPG on a kernel without GPT support) and made all six partition devices", async () => {
    expect(result.reread).toBe(await expectedReread());
    expect(result.partitions.map((p) => [p.label, p.device, p.filesystem])).toEqual([
      ["EFI", `${disk}p1`, "none"],
      ["BIOS", `${disk}p2`, "none"],
      ["BOOT", `${disk}p3`, "none"],
      ["META", `${disk}p4`, "none"],
      ["STATE", `${disk}p5`, "xfs"],
      ["EPHEMERAL", `${disk}p6`, "xfs"],
    ]);
    console.log(`install of ${disk}: ${result.ms} ms`);
  });

  test("the kernel's partitions match the plan (sysfs start and size)", async () => {
    for (const p of result.partitions) {
      const sysDir = `/sys/block/${name}/${basename(p.device)}`;
      expect(Number(await Bun.file(`${sysDir}/start`).text()) * 512).toBe(p.offset);
      expect(Number(await Bun.file(`${sysDir}/size`).text()) * 512).toBe(p.size);
    }
  });

  test("blkid sees the GPT labels and the XFS filesystems with their labels", async () => {
    const probe = async (dev: string) =>
      Object.fromEntries(
        (await sh(["blkid", "-p", "-o", "export", dev]))
          .trim()
          .split("\n")
          .map((l) => l.split("=", 2) as [string, string]),
      );
    const st = await probe(`${disk}p5`);
    expect([st.TYPE, st.LABEL, st.PART_ENTRY_NAME]).toEqual(["xfs", "STATE", "STATE"]);
    const eph = await probe(`${disk}p6`);
    expect([eph.TYPE, eph.LABEL, eph.PART_ENTRY_NAME]).toEqual(["xfs", "EPHEMERAL", "EPHEMERAL"]);
    const r = await run(["blkid", "-p", "-o", "export", `${disk}p3`]); // BOOT: left empty
    expect(r.output).toContain("PART_ENTRY_NAME=BOOT");
    expect(r.output).not.toMatch(/^TYPE=/m);
  });

  test("discovery over the real /sys and /dev finds partitions by label", async () => {
    const all = await discoverDisks({ includeVirtual: true });
    const me = all.find((d) => d.name === name);
    expect(me).toMatchObject({ size: 4 * GiB, sectorSize: 512, virtual: true, transport: "" });
    expect((await discoverDisks()).some((d) => d.name === name)).toBe(false); // loop devices only when asked
    const { gpt, partitions } = await diskPartitions(name);
    expect(gpt.valid).toBe(true);
    expect(partitions.map((p) => [p.label, p.devPath, p.inKernel])).toEqual(result.partitions.map((p) => [p.label, p.device, true]));
    expect((await findPartitionByLabel("STATE", { disk: name }))?.devPath).toBe(state);
    expect((await findPartitionByLabel("EPHEMERAL", { disk: name }))?.devPath).toBe(`${disk}p6`);
  });

  test("STATE mounts in a private mount namespace; a file written and fsynced there is read back after a remount", async () => {
    const f = join(mnt(), "config.yaml");
    const bun = process.execPath;
    await inMountNs(
      `mount -t xfs ${state} ${mnt()}; ${bun} -e 'const fs=require("node:fs"); const fd=fs.openSync("${f}","w"); fs.writeSync(fd,"version: v1alpha1\\n"); fs.fsyncSync(fd); fs.closeSync(fd)'; umount ${mnt()}`,
    );
    const out = await inMountNs(`mount -t xfs -o ro ${state} ${mnt()}; cat ${f}; umount ${mnt()}`);
    expect(out).toBe("version: v1alpha1\n");
  });

  test("a second install without wipe is refused and names what is on the disk", async () => {
    const e = await install({ disk, wipe: false, run, mkfs }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FailedPreconditionError);
    expect((e as Error).message).toStartWith(`disk ${disk} is not empty: it holds a GPT with 6 partitions (1 "EFI" 100 MiB, 2 "BIOS" 1 MiB`);
  });

  test("while a partition is mounted the disk is in use: refused even with wipe", async () => {
    const holder = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-ec", `mount -t xfs ${state} ${mnt()}; echo ready; exec sleep 60`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    children.push(holder);
    const reader = holder.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("ready");
    try {
      const e = await install({ disk, wipe: true, run, mkfs }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FailedPreconditionError);
      expect((e as Error).message).toBe(`disk ${disk} is in use (a partition is mounted or held open exclusively)`);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  });

  test("repair of the clean STATE: nothing to do", async () => {
    const r = await repairXfs(state, run, { xfsRepair });
    expect(r.action).toBe("clean");
    expect(r.words).toBe(`${state}: xfs_repair -n found no corruption; nothing to do`);
  });

  test("repair of a STATE whose primary superblock magic was zeroed: repaired, then clean, and the file survives", async () => {
    await sh(["xfs_db", "-x", "-c", "sb 0", "-c", "write -d magicnum 0", state]);
    expect((await run(["blkid", "-p", "-o", "export", state])).output).not.toContain("TYPE=xfs");
    const r = await repairXfs(state, run, { xfsRepair });
    expect([r.action, r.words]).toEqual(["repaired", `${state}: xfs_repair found corruption and repaired it`]);
    expect(r.runs.map((x) => x.code)).toEqual([1, 4]);
    expect((await repairXfs(state, run, { xfsRepair })).action).toBe("clean");
    const out = await inMountNs(`mount -t xfs -o ro ${state} ${mnt()}; cat ${mnt()}/config.yaml; umount ${mnt()}`);
    expect(out).toBe("version: v1alpha1\n");
  });

  test("a dirty log: repair says so; mount (replays the log), unmount, repair again: clean", async () => {
    // xfs_io's shutdown without -f stops the filesystem without flushing its log.
    await inMountNs(
      `mount -t xfs ${state} ${mnt()}; echo more > ${mnt()}/dirty; sync; echo again >> ${mnt()}/dirty; xfs_io -x -c shutdown ${mnt()}; umount ${mnt()}`,
    );
    const r = await repairXfs(state, run, { xfsRepair });
    expect(r.action).toBe("dirty-log");
    expect(r.words).toBe(`${state}: the XFS log is dirty and xfs_repair refuses it; mount ${state} to replay the log, unmount it, then repair again`);
    await inMountNs(`mount -t xfs ${state} ${mnt()}; umount ${mnt()}`);
    expect((await repairXfs(state, run, { xfsRepair })).action).toBe("clean");
  });

  test("a dirty log with replayLog given: repairXfs mounts and unmounts through it, then reports clean", async () => {
    await inMountNs(
      `mount -t xfs ${state} ${mnt()}; echo more >> ${mnt()}/dirty; sync; echo again >> ${mnt()}/dirty; xfs_io -x -c shutdown ${mnt()}; umount ${mnt()}`,
    );
    const replayLog = async (dev: string) => void (await inMountNs(`mount -t xfs ${dev} ${mnt()}; umount ${mnt()}`));
    const r = await repairXfs(state, run, { xfsRepair, replayLog });
    expect([r.action, r.words]).toEqual([
      "clean",
      `${state}: the log was dirty; replayed it by mounting and unmounting, then xfs_repair -n found no corruption; nothing to do`,
    ]);
  });

  test("at boot: partitions the kernel lost are restored from the GPT, then left alone", async () => {
    await sh([need("partx", "util-linux"), "-d", disk]);
    expect(await Bun.file(state).exists()).toBe(false);
    expect(await ensurePartitionDevices(disk)).toBe(await expectedReread());
    expect((await findPartitionByLabel("STATE", { disk: name }))?.inKernel).toBe(true);
    expect(await Bun.file(`/sys/block/${name}/${basename(state)}/partition`).text()).toBe("5\n");
    expect(await ensurePartitionDevices(disk)).toBe("unchanged");
  });

  test("reinstall with wipe: the old table is named as replaced, STATE is new and empty", async () => {
    const again = await install({ disk, wipe: true, run, mkfs });
    expect(again.replaced).toEqual([expect.stringMatching(/^a GPT with 6 partitions/)]);
    expect(again.diskGuid).not.toBe(result.diskGuid);
    expect(again.reread).toBe(await expectedReread());
    const out = await inMountNs(`mount -t xfs -o ro ${state} ${mnt()}; ls -A ${mnt()}; umount ${mnt()}`);
    expect(out).toBe("");
    const pt = JSON.parse(await sh(["sfdisk", "--json", disk])).partitiontable;
    expect(pt.id).toBe(again.diskGuid);
  });
});

describe("install onto a loop device with 4096-byte logical sectors", () => {
  test("the table is in 4 KiB sectors, sfdisk agrees, STATE and EPHEMERAL are XFS", async () => {
    const disk = await attach(4 * GiB, 4096);
    const r = await install({ disk, wipe: false, run, mkfs });
    const pt = JSON.parse(await sh(["sfdisk", "--json", disk])).partitiontable;
    expect(pt.sectorsize).toBe(4096);
    expect(pt.firstlba).toBe(6); // 2 + 16 KiB of entries / 4096
    expect(pt.partitions.map((p: { name: string; start: number }) => [p.name, p.start])).toEqual([
      ["EFI", 256],
      ["BIOS", 25856],
      ["BOOT", 26112],
      ["META", 282112],
      ["STATE", 282368],
      ["EPHEMERAL", 307968],
    ]);
    expect(await sh(["sfdisk", "--verify", disk])).toContain("No errors detected.");
    const sg = await run([need("sgdisk", "gdisk"), "-v", disk]);
    expect(sg.output).toContain("No problems found.");
    expect(await sh(["blkid", "-p", "-s", "LABEL", "-o", "value", `${disk}p5`])).toBe("STATE\n");
    expect((await findPartitionByLabel("EPHEMERAL", { disk: basename(disk) }))?.size).toBe(r.partitions[5]!.size);
  });
});

describe("a disk that is too small", () => {
  test("refused with its size and the minimum, nothing written", async () => {
    const disk = await attach(1 * GiB);
    const e = await install({ disk, wipe: false, run, mkfs }).catch((x: unknown) => x);
    expect((e as Error).message).toStartWith(`disk ${disk} is 1.0 GiB; the install needs at least 3.2 GiB (`);
    expect((await run(["sfdisk", "--json", disk])).code).not.toBe(0);
  });
});
