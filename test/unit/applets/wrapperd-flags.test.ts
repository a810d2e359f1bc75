// wrapperd's flag parsing and capability planning, in-process (no privilege
// changes happen here: usage errors and --help return before any step).
import { describe, expect, test } from "bun:test";
import { captureIo } from "../../../src/lib/io.ts";
import { main, USAGE } from "../../../src/applets/wrapperd/main.ts";
import { parsePlan, parseRlimit, UsageError } from "../../../src/applets/wrapperd/flags.ts";
import { planCaps } from "../../../src/applets/wrapperd/caps.ts";
import { RLIM_INFINITY, RLIMIT } from "../../../src/sys/process.ts";

const bit = (n: number) => 1n << BigInt(n);

describe("parsePlan", () => {
  test("--flag=v, --flag v and Go-style -flag=v all parse alike", () => {
    const forms = [
      ["--uid=65534", "--oom-score=-999", "--no-new-privs", "--", "/bin/x", "a"],
      ["--uid", "65534", "--oom-score", "-999", "--no-new-privs", "--", "/bin/x", "a"],
      ["-uid=65534", "-oom-score=-999", "-no-new-privs", "--", "/bin/x", "a"],
    ];
    for (const argv of forms) {
      const p = parsePlan(argv)!;
      expect(p.uid).toBe(65534);
      expect(p.oomScore).toBe(-999);
      expect(p.noNewPrivs).toBe(true);
      expect(p.command).toEqual(["/bin/x", "a"]);
    }
  });

  test("flags after -- belong to the service", () => {
    const p = parsePlan(["--name=svc", "--", "/bin/x", "--uid=1", "--"])!;
    expect(p.uid).toBeNull();
    expect(p.name).toBe("svc");
    expect(p.command).toEqual(["/bin/x", "--uid=1", "--"]);
  });

  test("capability names with or without CAP_, any case", () => {
    expect(parsePlan(["--dropped-caps=CAP_SYS_ADMIN, sys_module,Net_Raw", "--", "x"])!.caps).toEqual({ mode: "drop", caps: [21, 16, 13] });
    expect(parsePlan(["--keep-caps=net_bind_service", "--", "x"])!.caps).toEqual({ mode: "keep", caps: [10] });
  });

  test("repeatable --rlimit and --env; --groups list; --clear-env", () => {
    const p = parsePlan(["--rlimit", "NOFILE=1:2", "--rlimit=core=3", "--env", "A=1", "--env=B=", "--groups=1,2", "--clear-env", "--", "x"])!;
    expect(p.rlimits.map((r) => [r.resource, r.limit.soft, r.limit.hard])).toEqual([
      [RLIMIT.NOFILE, 1n, 2n],
      [RLIMIT.CORE, 3n, 3n],
    ]);
    expect(p.env).toEqual([
      ["A", "1"],
      ["B", ""],
    ]);
    expect(p.groups).toEqual([1, 2]);
    expect(p.clearEnv).toBe(true);
  });

  test("rlimit values", () => {
    expect(parseRlimit("RLIMIT_MEMLOCK=unlimited").limit).toEqual({ soft: RLIM_INFINITY, hard: RLIM_INFINITY });
    expect(parseRlimit("nofile=1024:infinity").limit).toEqual({ soft: 1024n, hard: RLIM_INFINITY });
    for (const bad of ["NOFILE", "NOFILE=", "NOFILE=1:2:3", "NOFILE=-1", "NOFILE=1e3", "BOGUS=1", "NOFILE=unlimited:5"]) {
      expect(() => parseRlimit(bad)).toThrow(UsageError);
    }
  });

  test("--help", () => {
    expect(parsePlan(["--help"])).toBeNull();
  });
});

describe("main without touching the process", () => {
  test("--help prints the usage with the exit-code table", async () => {
    const io = captureIo();
    expect(await main(["--help"], io)).toBe(0);
    expect(io.out).toBe(USAGE);
    for (const code of ["2 ", "1 ", "126", "127"]) expect(USAGE).toContain(`\n  ${code}`);
  });

  test("bad input is one stderr line and exit 2", async () => {
    const io = captureIo();
    expect(await main(["--uid=root", "--", "/bin/true"], io)).toBe(2);
    expect(io.err).toBe('wrapperd: --uid: "root" is not a numeric id (0..4294967294) (see wrapperd --help)\n');
    expect(io.out).toBe("");
  });
});

describe("planCaps", () => {
  const last = 40;
  const all = (1n << 41n) - 1n;
  test("drop list: everything else kept; keep list: only those", () => {
    expect(planCaps({ mode: "drop", caps: [21, 13] }, false, false, last).kept).toBe(all & ~(bit(21) | bit(13)));
    expect(planCaps({ mode: "keep", caps: [10] }, false, false, last).kept).toBe(bit(10));
    expect(planCaps(null, false, false, last).kept).toBe(all);
  });
  test("ambient only for an explicit --keep-caps with a non-root uid", () => {
    expect(planCaps({ mode: "keep", caps: [10] }, true, true, last).viaAmbient).toBe(true);
    expect(planCaps({ mode: "drop", caps: [10] }, true, true, last).viaAmbient).toBe(false);
    expect(planCaps({ mode: "keep", caps: [10] }, true, false, last).viaAmbient).toBe(false);
  });
  test("CAP_SETUID/SETGID are held in transit only when the identity changes", () => {
    expect(planCaps({ mode: "keep", caps: [] }, true, true, last).transit).toBe(bit(6) | bit(7));
    expect(planCaps({ mode: "keep", caps: [] }, false, false, last).transit).toBe(0n);
  });
  test("caps beyond the kernel's last cap are ignored", () => {
    expect(planCaps({ mode: "keep", caps: [40] }, false, false, 39).kept).toBe(0n);
  });
});
