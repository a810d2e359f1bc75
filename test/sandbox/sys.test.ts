// src/sys against the real kernel (as root). Anything that changes process
// state runs in a child (test/fixtures/sys-child.ts); mounts run under unshare -m.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as sys from "../../src/sys/index.ts";

const child = (args: string[], wrap: string[] = []) => {
  const r = Bun.spawnSync([...wrap, process.execPath, "test/fixtures/sys-child.ts", ...args]);
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
const statusField = (name: string) => BigInt("0x" + readFileSync("/proc/self/status", "utf8").match(new RegExp(`${name}:\\s+([0-9a-f]+)`))![1]!);

describe("capabilities", () => {
  test("the table covers CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40)", () => {
    expect(sys.CAPABILITIES).toHaveLength(41);
    expect(sys.capNumber("CAP_CHOWN")).toBe(0);
    expect(sys.capNumber("sys_admin")).toBe(21);
    expect(sys.capNumber("Cap_Net_Raw")).toBe(13);
    expect(sys.capNumber("CAP_CHECKPOINT_RESTORE")).toBe(40);
    expect(sys.capNumber("CAP_BOGUS")).toBeUndefined();
    expect(sys.capName(22)).toBe("CAP_SYS_BOOT");
  });

  test("capget of self matches /proc/self/status", () => {
    const caps = sys.capget();
    expect(caps.effective).toBe(statusField("CapEff"));
    expect(caps.permitted).toBe(statusField("CapPrm"));
    expect(caps.inheritable).toBe(statusField("CapInh"));
  });

  test("PR_CAPBSET_READ agrees with CapBnd for every capability", () => {
    const bnd = statusField("CapBnd");
    for (let i = 0; i <= sys.kernelLastCap(); i++) expect(sys.capbsetRead(i)).toBe((bnd & sys.capBit(i)) !== 0n);
  });

  test("PR_CAPBSET_DROP removes one bit from the bounding set (child)", () => {
    const r = child(["capbset-drop"]);
    expect(r.code).toBe(0);
    const { read, bnd } = JSON.parse(r.out);
    expect(read).toBe(false);
    expect(BigInt("0x" + bnd)).toBe(statusField("CapBnd") & ~sys.capBit(21));
  });

  test("capset drops CAP_NET_RAW from effective and permitted (child)", () => {
    const r = child(["capset"]);
    expect(r.code).toBe(0);
    const { eff, expected } = JSON.parse(r.out);
    expect(eff).toBe(expected);
    expect(BigInt("0x" + eff) & sys.capBit(13)).toBe(0n);
  });

  test("PR_SET_NO_NEW_PRIVS (child)", () => {
    const r = child(["no-new-privs"]);
    expect(JSON.parse(r.out)).toEqual({ before: false, after: true });
  });
});

describe("mounts", () => {
  test("a tmpfs mount and umount inside unshare -m", () => {
    const dir = mkdtempSync("/tmp/minos-sys-");
    try {
      const r = child(["mount-tmpfs-ok", dir], ["unshare", "-m", "--propagation", "private"]);
      expect(r.err).toBe("");
      const { line, after } = JSON.parse(r.out);
      expect(line).toContain(" - tmpfs minos-test ");
      expect(line).toContain("nosuid");
      expect(after).toBe(false);
      // The host never saw it.
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("umount of something not mounted throws SysError with the errno name", () => {
    const dir = mkdtempSync("/tmp/minos-sys-");
    try {
      expect(() => sys.umount(dir)).toThrow(/umount2\(.*\): EINVAL \(Invalid argument\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("errors", () => {
  test("a failing call carries syscall, errno and name, never a bare -1", () => {
    let err: unknown;
    try {
      sys.kill(0x3ffffff, 0); // above pid_max: no such process
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(sys.SysError);
    const e = err as sys.SysError;
    expect(e.errno).toBe(3);
    expect(e.code).toBe("ESRCH");
    expect(e.syscall).toBe(`kill(${0x3ffffff}, 0)`);
    expect(e.message).toBe(`kill(${0x3ffffff}, 0): ESRCH (No such process)`);
  });

  test("errno is read per call (EPERM-free call after a failure does not throw)", () => {
    expect(() => sys.kill(process.pid, 0)).not.toThrow();
  });
});

describe("processes", () => {
  test("execve replaces the child, keeping its pid", () => {
    const r = child(["execve"]);
    expect(r.code).toBe(0);
    const [word, pid] = r.out.trim().split(" ");
    expect(word).toBe("exec'd");
    expect(Number(pid)).toBeGreaterThan(1);
  });

  test("execve of a missing binary throws ENOENT", () => {
    const r = child(["execve-missing"]);
    expect(JSON.parse(r.out)).toEqual({ code: "ENOENT", message: "execve(/nonexistent/binary): ENOENT (No such file or directory)" });
  });

  test("setrlimit/getrlimit round trip shows in /proc/self/limits (child)", () => {
    const r = child(["rlimit"]);
    const { soft, hard, line } = JSON.parse(r.out);
    expect([soft, hard]).toEqual(["1234", "2345"]);
    expect(line).toMatch(/Max open files\s+1234\s+2345\s+files/);
  });

  test("posix_spawn + waitpid: exit code and signal are decoded", () => {
    const a = sys.spawn({ path: "/bin/sh", argv: ["sh", "-c", "exit 7"], env: [] });
    const b = sys.spawn({ path: "/bin/sh", argv: ["sh", "-c", "kill -TERM $$"], env: [] });
    const results = new Map<number, sys.ExitStatus>();
    while (results.size < 2) {
      const r = sys.waitpid(-1, 0);
      if (r && (r.pid === a || r.pid === b)) results.set(r.pid, r.status);
    }
    expect(results.get(a)).toEqual({ code: 7, signal: null });
    expect(results.get(b)).toEqual({ code: null, signal: 15 });
  });

  test("posix_spawn with stdout to a pipe, /dev/null stdin, new session", async () => {
    const [r, w] = sys.pipe();
    const pid = sys.spawn({
      path: "/bin/sh",
      argv: ["sh", "-c", "set -- $(cat /proc/$$/stat); echo sid=$6 pid=$$; cat"],
      env: ["PATH=/bin:/usr/bin"],
      stdin: "null",
      stdout: w,
      setsid: true,
    });
    sys.close(w);
    const text = await new Response(Bun.file(r).stream()).text();
    const st = sys.waitpid(pid, 0);
    expect(st?.status).toEqual({ code: 0, signal: null });
    const m = /sid=\s*(\d+) pid=(\d+)/.exec(text)!;
    expect(Number(m[1])).toBe(pid); // session leader: sid == pid
    expect(Number(m[2])).toBe(pid);
  });

  test("posix_spawn of a missing binary throws ENOENT", () => {
    expect(() => sys.spawn({ path: "/nonexistent", argv: ["x"], env: [] })).toThrow(/posix_spawn\(\/nonexistent\): ENOENT/);
  });
});
