// wrapperd as init runs it: a child process that prepares itself and execve's
// the service. Every case runs twice, through the source (`bun src/main.ts
// wrapperd`, argv0 "bun") and through the built hard link dist/rootfs/sbin/wrapperd.
// Capability expectations are computed from this test process's own
// /proc/self/status ("the rest as the parent had"), never hard-coded.
// Needs root (CI runs as root): capabilities, setuid, unshare.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { close as closeFd } from "../../src/sys/spawn.ts";
import { openPty } from "../../src/sys/tty.ts";

const ROOT = resolve(import.meta.dir, "../..");
const DIST = join(ROOT, "dist/rootfs/sbin/wrapperd");

// process.execPath may be named bun.exe (the npm package's binary), but the
// dispatcher's explicit form `bun src/main.ts <applet>` needs argv0 "bun": a
// symlink named bun gives that, also to the runs started through unshare + sh.
const LINK_DIR = mkdtempSync(join(tmpdir(), "wrapperd-bun-"));
const BUN = join(LINK_DIR, "bun");
symlinkSync(process.execPath, BUN);
afterAll(() => rmSync(LINK_DIR, { recursive: true, force: true }));

const RUNNERS: { name: string; argv: string[] }[] = [
  { name: "bun src/main.ts wrapperd", argv: [BUN, join(ROOT, "src/main.ts"), "wrapperd"] },
  { name: "dist/rootfs/sbin/wrapperd", argv: [DIST] },
];

interface Result {
  code: number;
  out: string;
  err: string;
  pid: number;
}

const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

async function run(argv: string[]): Promise<Result> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err, pid: p.pid };
  } finally {
    if (p.exitCode === null) p.kill(9);
  }
}

type Status = Record<string, string>;

function parseStatus(text: string): Status {
  const out: Status = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const CAP_SETS = ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] as const;
const hex = (s: Status, k: string): bigint => BigInt(`0x${s[k] ?? "x"}`);
const bit = (n: number): bigint => 1n << BigInt(n);
const CAP_NET_BIND_SERVICE = 10;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;

const parent = parseStatus(readFileSync("/proc/self/status", "utf8"));

/** Each cap set of `child` as `expect(set)` computes it from the parent's. */
function expectCaps(child: Status, expected: (set: (typeof CAP_SETS)[number], parentMask: bigint) => bigint): void {
  const got = Object.fromEntries(CAP_SETS.map((k) => [k, hex(child, k).toString(16)]));
  const want = Object.fromEntries(CAP_SETS.map((k) => [k, expected(k, hex(parent, k)).toString(16)]));
  expect(got).toEqual(want);
}

for (const runner of RUNNERS) {
  describe(runner.name, () => {
    const wrapperd = (...args: string[]) => run([...runner.argv, ...args]);

    test("the runner exists (bun run build makes dist/)", () => {
      expect(existsSync(runner.argv[0]!)).toBe(true);
    });

    test("--dropped-caps clears exactly those bits in every set, the rest as the parent had", async () => {
      const r = await wrapperd("--dropped-caps=CAP_SYS_ADMIN,net_raw", "--", "/bin/cat", "/proc/self/status");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const child = parseStatus(r.out);
      const dropped = bit(CAP_SYS_ADMIN) | bit(CAP_NET_RAW);
      expect(hex(parent, "CapBnd") & dropped).toBe(dropped); // the test means something only if the parent had them
      expectCaps(child, (_, p) => p & ~dropped);
      expect(child.NoNewPrivs).toBe("0");
      expect(child.Uid).toBe(parent.Uid!);
      // The runtime ignores SIGPIPE/SIGXFSZ; the service must not inherit that.
      expect(child.SigIgn).toBe("0000000000000000");
      expect(child.SigBlk).toBe("0000000000000000");
    });

    test("--keep-caps leaves only that bit", async () => {
      const r = await wrapperd("--keep-caps=CAP_NET_BIND_SERVICE", "--", "/bin/cat", "/proc/self/status");
      expect(r.code).toBe(0);
      const keep = bit(CAP_NET_BIND_SERVICE);
      expectCaps(parseStatus(r.out), (_, p) => p & keep);
      expect(hex(parseStatus(r.out), "CapEff")).toBe(keep);
    });

    test("--uid/--gid switch identity; a non-root uid without --keep-caps holds no caps; groups cleared", async () => {
      const r = await wrapperd("--uid", "65534", "--gid", "65534", "--", "/bin/cat", "/proc/self/status");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const child = parseStatus(r.out);
      expect(child.Uid).toBe("65534\t65534\t65534\t65534");
      expect(child.Gid).toBe("65534\t65534\t65534\t65534");
      expect(child.Groups).toBe("");
      expectCaps(child, (set, p) => (set === "CapBnd" ? p : 0n));
    });

    test("non-root uid with --keep-caps keeps them as ambient caps across execve; --groups, Go-style flags", async () => {
      const r = await wrapperd("-uid=65534", "-gid=65534", "-groups=5,6", "-keep-caps=net_bind_service", "--", "/bin/cat", "/proc/self/status");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const child = parseStatus(r.out);
      expect(child.Uid).toBe("65534\t65534\t65534\t65534");
      expect(child.Groups).toBe("5 6");
      const keep = bit(CAP_NET_BIND_SERVICE);
      expectCaps(child, () => keep);
    });

    test("--no-new-privs sets NoNewPrivs", async () => {
      const r = await wrapperd("--no-new-privs", "--", "/bin/grep", "^NoNewPrivs:", "/proc/self/status");
      expect(r.out.trim()).toBe("NoNewPrivs:\t1");
    });

    test("--oom-score writes /proc/self/oom_score_adj", async () => {
      // Raising the score needs no privilege (lowering needs CAP_SYS_RESOURCE).
      const mine = Number(readFileSync("/proc/self/oom_score_adj", "utf8"));
      const want = mine < 777 ? 777 : 1000;
      const r = await wrapperd(`--oom-score=${want}`, "--", "/bin/cat", "/proc/self/oom_score_adj");
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(String(want));
    });

    test("--rlimit (repeatable, any RLIMIT_ name) shows in /proc/self/limits", async () => {
      const r = await wrapperd("--rlimit", "NOFILE=1000:2000", "--rlimit=rlimit_core=unlimited", "--", "/bin/cat", "/proc/self/limits");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Max open files\s+1000\s+2000\s+files/m);
      expect(r.out).toMatch(/^Max core file size\s+unlimited\s+unlimited\s+bytes/m);
    });

    test("the service keeps wrapperd's pid", async () => {
      const r = await wrapperd("--", "/bin/sh", "-c", "echo $$");
      expect(Number(r.out.trim())).toBe(r.pid);
    });

    test("--env, --clear-env, --cwd and PATH lookup", async () => {
      const r = await wrapperd("--clear-env", "--env", "A=1", "--env=B=x=y", "--cwd=/tmp", "--", "sh", "-c", 'echo "$A|$B|$(pwd)"; env | wc -l');
      expect(r.err).toBe("");
      // sh adds PWD (and maybe SHLVL/_) on its own; only ours plus those may be there.
      const [line, count] = r.out.trim().split("\n");
      expect(line).toBe("1|x=y|/tmp");
      expect(Number(count)).toBeLessThanOrEqual(5);
      const kept = await wrapperd("--env", "C=3", "--", "/bin/sh", "-c", 'echo "$PATH|$C"');
      expect(kept.out.trim()).toBe("/usr/sbin:/usr/bin:/sbin:/bin|3");
    });

    describe("bad input: one line on stderr, exit 2, nothing executed", () => {
      const cases: [string, string[], RegExp][] = [
        ["unknown capability", ["--dropped-caps=CAP_SYS_ADMIN,CAP_FLY"], /unknown capability "CAP_FLY"/],
        ["unknown keep capability", ["--keep-caps=nope"], /unknown capability "nope"/],
        ["non-numeric uid", ["--uid", "nobody"], /--uid: "nobody" is not a numeric id/],
        ["negative uid", ["--uid=-1"], /--uid: "-1" is not a numeric id/],
        ["negative gid", ["-gid=-5"], /--gid: "-5" is not a numeric id/],
        ["bad group", ["--groups=1,x"], /--groups: "x" is not a numeric id/],
        ["bad rlimit syntax", ["--rlimit", "NOFILE"], /--rlimit "NOFILE": bad syntax/],
        ["bad rlimit value", ["--rlimit", "NOFILE=lots"], /--rlimit "NOFILE=lots": values are decimal/],
        ["unknown rlimit", ["--rlimit", "FILES=1"], /unknown limit RLIMIT_FILES/],
        ["soft above hard", ["--rlimit", "NOFILE=9:3"], /soft limit above hard limit/],
        ["oom score out of range", ["--oom-score=-1001"], /--oom-score: "-1001"/],
        ["both cap flags", ["--dropped-caps=chown", "--keep-caps=chown"], /exclude each other/],
        ["unknown flag", ["--frobnicate"], /unknown flag --frobnicate/],
        ["bad env", ["--env", "NOEQUALS"], /--env "NOEQUALS": want KEY=VALUE/],
        ["cgroup path escaping", ["--cgroup-path=/a/../b"], /--cgroup-path/],
      ];
      for (const [what, flags, message] of cases) {
        test(what, async () => {
          const dir = mkdtempSync(join(tmpdir(), "wrapperd-"));
          try {
            const marker = join(dir, "ran");
            const r = await wrapperd(...flags, "--", "/usr/bin/touch", marker);
            expect(r.err).toMatch(message);
            expect(r.err.trimEnd().split("\n")).toHaveLength(1);
            expect(r.code).toBe(2);
            expect(existsSync(marker)).toBe(false);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });
      }
      test("nothing after --", async () => {
        for (const args of [["--uid=0", "--"], ["--uid=0"], ["/bin/true"]]) {
          const r = await wrapperd(...args);
          expect(r.code).toBe(2);
          expect(r.err).toMatch(/nothing to run|the service goes after --/);
        }
      });
    });

    test("exec failures: 127 not found, 126 not executable, with the errno name", async () => {
      const missing = await wrapperd("--", "/nonexistent/service");
      expect(missing.code).toBe(127);
      expect(missing.err).toMatch(/exec \/nonexistent\/service: ENOENT/);
      const notInPath = await wrapperd("--", "no-such-service-anywhere");
      expect(notInPath.code).toBe(127);
      const dir = mkdtempSync(join(tmpdir(), "wrapperd-"));
      try {
        const file = join(dir, "plain");
        writeFileSync(file, "not a program\n");
        chmodSync(file, 0o644);
        const denied = await wrapperd("--", file);
        expect(denied.code).toBe(126);
        expect(denied.err).toMatch(/EACCES/);
        const junk = join(dir, "junk");
        writeFileSync(junk, "\x7fELF garbage");
        chmodSync(junk, 0o755);
        const noexec = await wrapperd("--name=junk", "--", junk);
        expect(noexec.code).toBe(126);
        expect(noexec.err).toMatch(/^wrapperd\[junk\]: exec .*: ENOEXEC/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a failed step exits 1 naming the call and errno, before exec", async () => {
      const r = await wrapperd("--cwd=/nonexistent/dir", "--", "/bin/echo", "ran");
      expect(r.code).toBe(1);
      expect(r.out).toBe("");
      expect(r.err).toMatch(/cwd: chdir\(\/nonexistent\/dir\): ENOENT/);
      const tty = await wrapperd("--ctty=/dev/null", "--", "/bin/echo", "ran");
      expect(tty.code).toBe(1);
      expect(tty.out).toBe("");
      expect(tty.err).toMatch(/ctty: \/dev\/null is not a terminal/);
    });

    test("--ctty: new session, the tty is the controlling terminal and fds 0-2", async () => {
      const { master, slave } = openPty();
      const dir = mkdtempSync(join(tmpdir(), "wrapperd-"));
      try {
        const out = join(dir, "out");
        // $(...) reads the shell's own fds ($$) before anything is redirected.
        const script = `fds=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2); { echo $$; echo "$fds"; cut -d" " -f6,7 /proc/$$/stat; } > ${out}`;
        const r = await wrapperd(`--ctty=${slave}`, "--", "/bin/sh", "-c", script);
        expect(r.code).toBe(0);
        const [pid, fd0, fd1, fd2, stat] = readFileSync(out, "utf8").trim().split("\n");
        expect(Number(pid)).toBe(r.pid);
        expect([fd0, fd1, fd2]).toEqual([slave, slave, slave]);
        const [session, ttyNr] = stat!.split(" ").map(Number);
        expect(session).toBe(r.pid); // session leader
        expect(ttyNr).toBe(statSync(slave).rdev); // controlling tty (pts numbers < 256 encode alike)
      } finally {
        closeFd(master);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("--cgroup-path creates the cgroup and moves the pid (private cgroup2 mount, own cgroup namespace)", async () => {
      // -C roots the cgroup2 mount at this test's own cgroup: the cgroup is
      // created below it, never elsewhere in the host's tree; the script removes it.
      const name = `/wrapperd-test-${process.pid}-${runner.argv.length}`;
      const script = [
        "mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 90",
        '"$@"; rc=$?',
        `rmdir /sys/fs/cgroup${name}/runtime /sys/fs/cgroup${name} || exit 91`,
        "exit $rc",
      ].join("\n");
      const r = await run([
        "unshare",
        "-m",
        "-C",
        "--",
        "/bin/sh",
        "-c",
        script,
        "sh",
        ...runner.argv,
        `--cgroup-path=${name}/runtime`,
        "--",
        "/bin/cat",
        "/proc/self/cgroup",
      ]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.split("\n")).toContain(`0::${name}/runtime`);
    });

    test("--cgroup-path refuses a /sys/fs/cgroup that is not cgroup v2", async () => {
      const script = 'mount -t tmpfs tmpfs /sys/fs/cgroup || exit 90\n"$@"; rc=$?; test -e /sys/fs/cgroup/x && exit 91; exit $rc';
      const r = await run(["unshare", "-m", "--", "/bin/sh", "-c", script, "sh", ...runner.argv, "--cgroup-path=/x", "--", "/bin/echo", "ran"]);
      expect(r.code).toBe(1);
      expect(r.out).toBe("");
      expect(r.err).toMatch(/not a cgroup v2 mount/);
    });
  });
}
