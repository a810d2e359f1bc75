// The mkfs.xfs command line and how repairXfs maps xfs_repair's exit codes to
// what it did, through a scripted runner (the real binaries run in
// test/sandbox/disks/install.test.ts).
import { describe, expect, test } from "bun:test";
import { formatXfs, repairXfs, type Runner } from "../../../src/disks/format.ts";

/** Answers each call with the next scripted reply and records the argv. */
function scripted(...replies: { code: number; output?: string }[]) {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push(argv);
    const r = replies.shift();
    if (!r) throw new Error(`unexpected call: ${argv.join(" ")}`);
    return { code: r.code, output: r.output ?? "" };
  };
  return { run, calls };
}

describe("formatXfs", () => {
  test("-f, ftype=1 and the label; --unsupported at 300 MiB and below, as Talos passes it", async () => {
    const s = scripted({ code: 0 }, { code: 0 });
    await formatXfs("/dev/vda5", "STATE", 100 * 2 ** 20, s.run);
    await formatXfs("/dev/vda6", "EPHEMERAL", 8 * 2 ** 30, s.run, "/usr/sbin/mkfs.xfs");
    expect(s.calls).toEqual([
      ["/sbin/mkfs.xfs", "-f", "-n", "ftype=1", "-L", "STATE", "--unsupported", "/dev/vda5"],
      ["/usr/sbin/mkfs.xfs", "-f", "-n", "ftype=1", "-L", "EPHEMERAL", "/dev/vda6"],
    ]);
  });
  test("a failure carries the command, the exit code and the end of the output", async () => {
    const s = scripted({ code: 1, output: "mkfs.xfs: cannot open /dev/vda5: Device or resource busy\n" });
    await expect(formatXfs("/dev/vda5", "STATE", 100 * 2 ** 20, s.run)).rejects.toThrow(
      "/sbin/mkfs.xfs -f -n ftype=1 -L STATE --unsupported /dev/vda5: exit code 1: mkfs.xfs: cannot open /dev/vda5: Device or resource busy",
    );
  });
});

describe("repairXfs", () => {
  test("-n exits 0: clean, nothing else runs", async () => {
    const s = scripted({ code: 0, output: "Phase 1 - find and verify superblock...\nNo modify flag set, skipping filesystem flush and exiting.\n" });
    const r = await repairXfs("/dev/vda5", s.run);
    expect([r.action, r.words]).toEqual(["clean", "/dev/vda5: xfs_repair -n found no corruption; nothing to do"]);
    expect(s.calls).toEqual([["/sbin/xfs_repair", "-n", "/dev/vda5"]]);
  });
  test("-n exits 1, the repair exits 4: repaired", async () => {
    const s = scripted({ code: 1, output: "bad primary superblock - bad magic number !!!\n" }, { code: 4 });
    const r = await repairXfs("/dev/vda5", s.run);
    expect([r.action, r.words]).toEqual(["repaired", "/dev/vda5: xfs_repair found corruption and repaired it"]);
    expect(s.calls.map((c) => c.slice(1))).toEqual([
      ["-n", "/dev/vda5"],
      ["-e", "/dev/vda5"],
    ]);
    expect(r.runs.map((x) => x.code)).toEqual([1, 4]);
  });
  test("a dirty log seen by -n: no repair attempted; the words say mount, unmount, repair again", async () => {
    const s = scripted({
      code: 1,
      output: "ERROR: The filesystem has valuable metadata changes in a log which is being ignored because the -n option was used.\n",
    });
    const r = await repairXfs("/dev/vda5", s.run);
    expect(r.action).toBe("dirty-log");
    expect(r.words).toBe("/dev/vda5: the XFS log is dirty and xfs_repair refuses it; mount /dev/vda5 to replay the log, unmount it, then repair again");
    expect(s.calls).toHaveLength(1);
  });
  test("the repair itself exits 2 (dirty log): dirty-log", async () => {
    const s = scripted({ code: 1 }, { code: 2, output: "ERROR: The filesystem has valuable metadata changes in a log which needs to be replayed.\n" });
    expect((await repairXfs("/dev/vda5", s.run)).action).toBe("dirty-log");
  });
  test("the repair exits 1: failed, with the end of its output", async () => {
    const s = scripted({ code: 1 }, { code: 1, output: "Sorry, could not find valid secondary superblock\nExiting now.\n" });
    const r = await repairXfs("/dev/vda5", s.run);
    expect(r.action).toBe("failed");
    expect(r.words).toBe(
      "/dev/vda5: xfs_repair could not repair the filesystem (exit code 1): Sorry, could not find valid secondary superblock | Exiting now.",
    );
  });
  test("a mounted filesystem: failed, says so, and no repair runs", async () => {
    const s = scripted({ code: 1, output: "xfs_repair: /dev/vda5 contains a mounted filesystem\n" });
    const r = await repairXfs("/dev/vda5", s.run);
    expect([r.action, r.words]).toEqual(["failed", "/dev/vda5 is mounted: xfs_repair works only on an unmounted filesystem"]);
    expect(s.calls).toHaveLength(1);
  });
  test("zeroLog: straight to xfs_repair -e -L, and the words say what was lost", async () => {
    const s = scripted({ code: 4 });
    const r = await repairXfs("/dev/vda5", s.run, { zeroLog: true, xfsRepair: "/usr/sbin/xfs_repair" });
    expect(s.calls).toEqual([["/usr/sbin/xfs_repair", "-e", "-L", "/dev/vda5"]]);
    expect(r.words).toBe("/dev/vda5: xfs_repair found corruption and repaired it (the log was zeroed: its last metadata changes are lost)");
  });
});

describe("repairXfs with replayLog", () => {
  const dirty = { code: 1, output: "ERROR: The filesystem has valuable metadata changes in a log which is being ignored because the -n option was used.\n" };
  test("a dirty log: replayLog is called, then the check runs again", async () => {
    const s = scripted(dirty, { code: 0 });
    const replayed: string[] = [];
    const r = await repairXfs("/dev/vda5", s.run, { replayLog: async (dev) => void replayed.push(dev) });
    expect(replayed).toEqual(["/dev/vda5"]);
    expect([r.action, r.words]).toEqual([
      "clean",
      "/dev/vda5: the log was dirty; replayed it by mounting and unmounting, then xfs_repair -n found no corruption; nothing to do",
    ]);
    expect(r.runs).toHaveLength(2);
  });
  test("the mount fails: failed, and the words name -L as the last resort", async () => {
    const s = scripted(dirty);
    const r = await repairXfs("/dev/vda5", s.run, {
      replayLog: async () => {
        throw new Error("mount(/dev/vda5): EUCLEAN");
      },
    });
    expect(r.action).toBe("failed");
    expect(r.words).toBe(
      "/dev/vda5: the XFS log is dirty and mounting to replay it failed (mount(/dev/vda5): EUCLEAN); only xfs_repair -L (zeroLog), which loses the log's changes, is left",
    );
  });
  test("still dirty after the replay: failed", async () => {
    const s = scripted(dirty, dirty);
    const r = await repairXfs("/dev/vda5", s.run, { replayLog: async () => {} });
    expect([r.action, r.words]).toEqual(["failed", "/dev/vda5: the log is still dirty after a mount and unmount"]);
  });
  test("a clean filesystem never calls replayLog", async () => {
    const s = scripted({ code: 0 });
    let called = false;
    await repairXfs("/dev/vda5", s.run, { replayLog: async () => void (called = true) });
    expect(called).toBe(false);
  });
});
