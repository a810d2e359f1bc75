// The PID-1 boot shim (README, "The root filesystem": the /proc/self/maps shim): in a chroot of dist/rootfs, in a new
// PID namespace, with no procfs mounted, /sbin/init starts only because the
// rootfs carries /proc/self/maps as a regular file. The negative twin removes
// that file from a private copy and expects the runtime to abort.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import { STACK_TOP, STEP, WINDOW, stackShim } from "../../build/shim.ts";

const copies: string[] = [];
afterAll(() => copies.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A private hard-link copy of dist/rootfs, so removing a file never touches the original. */
function privateRootfs(): string {
  const dir = mkdtempSync("/tmp/minos-shim-");
  copies.push(dir);
  const r = Bun.spawnSync(["cp", "-al", "dist/rootfs/.", dir]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return dir;
}

function bootCheck(root: string) {
  const r = Bun.spawnSync(["unshare", "--pid", "--fork", "--mount", "chroot", root, "/sbin/init", "--check-runtime"], {
    env: { PATH: "/sbin:/bin" },
  });
  return { code: r.exitCode, signal: r.signalCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("boot shim file", () => {
  test("covers the 16 GiB stack window in 1 MiB lines, highest first", () => {
    const lines = stackShim().trimEnd().split("\n");
    expect(lines).toHaveLength(Number(WINDOW / STEP));
    const ranges = lines.map(
      (l) =>
        l
          .split(" ")[0]!
          .split("-")
          .map((h) => BigInt("0x" + h)) as [bigint, bigint],
    );
    expect(ranges[0]![1]).toBe(STACK_TOP);
    expect(ranges.at(-1)![0]).toBe(STACK_TOP - WINDOW);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![1]).toBe(ranges[i - 1]![0]); // contiguous, descending
  });

  test("dist/rootfs carries it as a regular file", () => {
    expect(statSync("dist/rootfs/proc/self/maps").isFile()).toBe(true);
    expect(readFileSync("dist/rootfs/proc/self/maps", "utf8")).toBe(stackShim());
  });
});

describe("PID 1 without procfs", () => {
  test("with the shim: init starts as pid 1, sees no procfs, and deep recursion is a RangeError", () => {
    const root = privateRootfs();
    const r = bootCheck(root);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ pid: 1, procMounted: false, recursion: "RangeError" });
  });

  test("without the shim (negative twin): the runtime aborts before init runs", () => {
    const root = privateRootfs();
    unlinkSync(`${root}/proc/self/maps`);
    expect(existsSync("dist/rootfs/proc/self/maps")).toBe(true); // the original is untouched
    const r = bootCheck(root);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toContain('"pid":1');
    expect(r.err).toMatch(/abort/i);
  });
});
