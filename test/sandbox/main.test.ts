// The multicall front door: dispatch by invoked name, the explicit `minos <applet>`
// form, unknown names, and --help of every applet — in-process and through the
// compiled binary's hard links in dist/rootfs.
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { APPLET_NAMES, dispatch } from "../../src/main.ts";
import { captureIo } from "../../src/lib/io.ts";

const ROOTFS_APPLETS = ["init", "dashboard", "poweroff", "shutdown", "wrapperd"];

describe("dispatch", () => {
  test("the applet table has exactly the six names", () => {
    expect([...APPLET_NAMES].sort()).toEqual(["dashboard", "init", "minosctl", "poweroff", "shutdown", "wrapperd"]);
  });

  for (const name of APPLET_NAMES) {
    test(`${name}: invoked by name (/sbin/${name}) prints its own usage on --help`, async () => {
      const io = captureIo();
      const code = await dispatch(`/sbin/${name}`, ["--help"], io);
      expect(code).toBe(0);
      expect(io.out.toLowerCase()).toContain(name === "minosctl" ? "minosctl" : name);
      expect(io.out).toMatch(/usage/i);
    });
  }

  test("explicit form: `minos poweroff --help` runs the poweroff applet", async () => {
    const io = captureIo();
    expect(await dispatch("/usr/local/bin/minos", ["poweroff", "--help"], io)).toBe(0);
    expect(io.out).toMatch(/usage: poweroff/i);
  });

  test("`minos ctl` is minosctl", async () => {
    const a = captureIo();
    const b = captureIo();
    await dispatch("minos", ["ctl", "--help"], a);
    await dispatch("minosctl", ["--help"], b);
    expect(a.out).toBe(b.out);
    expect(a.out.length).toBeGreaterThan(0);
  });

  test("an unknown invoked name prints one line naming the valid applets and exits 1", async () => {
    const io = captureIo();
    expect(await dispatch("/sbin/halt", [], io)).toBe(1);
    expect(io.err.trim().split("\n")).toHaveLength(1);
    expect(io.err).toContain('unknown applet "halt"');
    for (const n of APPLET_NAMES) expect(io.err).toContain(n);
    expect(io.out).toBe("");
  });

  test("an unknown applet in the explicit form is rejected the same way", async () => {
    const io = captureIo();
    expect(await dispatch("minos", ["frobnicate"], io)).toBe(1);
    expect(io.err).toContain('unknown applet "frobnicate"');
  });

  test("`minos` alone describes every applet", async () => {
    const io = captureIo();
    expect(await dispatch("minos", [], io)).toBe(0);
    for (const n of APPLET_NAMES) expect(io.out).toContain(n);
  });
});

describe("compiled binary", () => {
  for (const name of ROOTFS_APPLETS) {
    test(`dist/rootfs/sbin/${name} --help dispatches on the hard link's name`, () => {
      const r = Bun.spawnSync([`dist/rootfs/sbin/${name}`, "--help"]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toMatch(new RegExp(`usage: ${name}`, "i"));
    });
  }

  test("a hard link under an unknown name exits 1 with the one-line message", () => {
    const dir = `/tmp/minos-link-${process.pid}`;
    Bun.spawnSync(["mkdir", "-p", dir]);
    try {
      Bun.spawnSync(["ln", "-f", "dist/minos", `${dir}/halt`]);
      const r = Bun.spawnSync([`${dir}/halt`]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr.toString()).toMatch(/^minos: unknown applet "halt"; valid applets: init, dashboard, poweroff, shutdown, wrapperd, minosctl\n$/);
    } finally {
      Bun.spawnSync(["rm", "-rf", dir]);
    }
  });

  test("the five rootfs names share one inode with link count 5", () => {
    const stats = ROOTFS_APPLETS.map((n) => statSync(`dist/rootfs/sbin/${n}`));
    expect(new Set(stats.map((s) => s.ino)).size).toBe(1);
    expect(stats[0]!.nlink).toBe(5);
  });
});
