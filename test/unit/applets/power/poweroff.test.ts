// poweroff entrypoint: the flag × invoked-name matrix, usage errors, and every
// execute path with fakes. No test here can call the real reboot(2): execute
// gets fake deps, and the only real-deps calls use flags that never reach it.
import { describe, expect, test } from "bun:test";
import { dispatch } from "../../../../src/main.ts";
import { main } from "../../../../src/applets/power/main.ts";
import { UnreachableError } from "../../../../src/applets/power/client.ts";
import { runPowerApplet } from "../../../../src/applets/power/main.ts";
import { isHelp, parse, UsageError, type Request } from "../../../../src/applets/power/request.ts";
import { fakeDeps, fakeIo } from "../../../helpers/poweroff-fakes.ts";

const NOW = new Date(2025, 10, 27, 12, 34, 20);

function req(name: "poweroff" | "halt" | "reboot", argv: string[]): Request {
  const r = parse(name, argv, NOW);
  if (r instanceof UsageError) throw new Error(`unexpected usage error: ${r.message}`);
  if (isHelp(r)) throw new Error("unexpected help");
  return r;
}

describe("poweroff flag × name matrix", () => {
  // [invoked name, argv, action, force, sync]
  const rows: ["poweroff" | "halt" | "reboot", string[], string, boolean, boolean][] = [
    ["poweroff", [], "poweroff", false, true],
    ["poweroff", ["-p"], "poweroff", false, true],
    ["poweroff", ["--poweroff"], "poweroff", false, true],
    ["poweroff", ["-H"], "halt", false, true],
    ["poweroff", ["--halt"], "halt", false, true],
    ["poweroff", ["-r"], "reboot", false, true],
    ["poweroff", ["--reboot"], "reboot", false, true],
    ["poweroff", ["-f"], "poweroff", true, true],
    ["poweroff", ["--force"], "poweroff", true, true],
    ["poweroff", ["-f", "-n"], "poweroff", true, false],
    ["poweroff", ["-fn"], "poweroff", true, false],
    ["poweroff", ["--force", "--no-sync"], "poweroff", true, false],
    ["poweroff", ["-rf"], "reboot", true, true],
    ["poweroff", ["-H", "-f", "-n"], "halt", true, false],
    ["poweroff", ["--no-wall"], "poweroff", false, true],
    ["poweroff", ["-n"], "poweroff", false, false],
    ["halt", [], "halt", false, true],
    ["halt", ["-p"], "poweroff", false, true],
    ["halt", ["-r", "-f"], "reboot", true, true],
    ["reboot", [], "reboot", false, true],
    ["reboot", ["-p"], "poweroff", false, true],
    ["reboot", ["-f"], "reboot", true, true],
    ["reboot", ["--halt", "-fn"], "halt", true, false],
  ];
  for (const [name, argv, action, force, sync] of rows) {
    test(`${name} ${argv.join(" ")} → ${action}${force ? " forced" : ""}${sync ? "" : " no-sync"}`, () => {
      const r = req(name, argv);
      expect({ action: r.action, force: r.force, sync: r.sync }).toEqual({ action: action as Request["action"], force, sync });
      expect(r.when).toBe("now");
      expect(r.cancel).toBe(false);
      expect(r.announceOnly).toBe(false);
    });
  }

  test("--no-wall clears wall", () => {
    expect(req("poweroff", []).wall).toBe(true);
    expect(req("poweroff", ["--no-wall"]).wall).toBe(false);
  });

  test("--help and -h ask for help", () => {
    for (const a of [["--help"], ["-h"]]) {
      const r = parse("poweroff", a, NOW);
      expect(!(r instanceof UsageError) && isHelp(r)).toBe(true);
    }
  });

  const bad: [string[], RegExp][] = [
    [["-w"], /unknown flag -w/],
    [["--wtmp-only"], /unknown flag --wtmp-only/],
    [["-x"], /unknown flag -x/],
    [["-fw"], /unknown flag -fw/],
    [["now"], /unexpected argument "now"/],
    [["-r", "-H"], /conflicting actions/],
    [["-p", "--reboot"], /conflicting actions/],
    [["--", "x"], /unexpected argument "x"/],
  ];
  for (const [argv, why] of bad) {
    test(`poweroff ${argv.join(" ")} is a usage error`, () => {
      const r = parse("poweroff", argv, NOW);
      expect(r).toBeInstanceOf(UsageError);
      expect((r as UsageError).message).toMatch(why);
    });
  }
});

describe("poweroff bad input: one usage line, exit 1, nothing sent", () => {
  for (const argv of [["-w"], ["--bogus"], ["now"], ["-r", "-H"]]) {
    test(argv.join(" "), async () => {
      const d = fakeDeps({ isTTY: true });
      expect(await runPowerApplet("poweroff", argv, d.io, d, NOW)).toBe(1);
      expect(d.rec.io.err.split("\n")).toEqual([expect.stringMatching(/^poweroff: .*\(usage: poweroff \[-p\|--poweroff\] .*\)$/), ""]);
      expect(d.rec.io.out).toBe("");
      expect(d.rec.connects).toEqual([]);
      expect(d.rec.calls).toEqual([]);
    });
  }

  test("without a terminal the bad command line also goes to kmsg", async () => {
    const d = fakeDeps({ isTTY: false });
    expect(await runPowerApplet("poweroff", ["-w"], d.io, d, NOW)).toBe(1);
    expect(d.rec.kmsg).toEqual(["<3>poweroff[4242]: bad command line [-w]: unknown flag -w; nothing sent\n"]);
  });

  test("through the applet entrypoint and the dispatch table", async () => {
    // Real deps, but a usage error returns before anything is sent or forced.
    const io = fakeIo(true);
    const viaMain = fakeIo(true);
    expect(await main(["--bogus"], viaMain, "poweroff")).toBe(1);
    expect(viaMain.err).toMatch(/^poweroff: unknown flag --bogus \(usage: poweroff /);
    expect(await dispatch("/sbin/poweroff", ["-w"], io)).toBe(1);
    const help = fakeIo(true);
    expect(await dispatch("./poweroff", ["--help"], help)).toBe(0);
    expect(help.out).toContain("-f, --force");
  });
});

describe("poweroff asks init", () => {
  for (const [argv, call] of [
    [[], "power poweroff"],
    [["-H"], "power halt"],
    [["--reboot"], "power reboot"],
    [["-n"], "power poweroff"], // -n only matters with -f
  ] as [string[], string][]) {
    test(`poweroff ${argv.join(" ")} → ${call}`, async () => {
      const d = fakeDeps({ isTTY: true });
      expect(await runPowerApplet("poweroff", argv, d.io, d, NOW)).toBe(0);
      expect(d.rec.connects).toEqual(["/test/machine.sock"]);
      expect(d.rec.calls).toEqual([call, "close"]);
      expect(d.rec.kmsg).toEqual([]); // a terminal: no kernel log
      expect(d.rec.io.err).toBe("");
    });
  }

  test("without a terminal: what was asked and the result go to kmsg", async () => {
    const d = fakeDeps({ isTTY: false });
    expect(await runPowerApplet("poweroff", [], d.io, d, NOW)).toBe(0);
    expect(d.rec.kmsg).toEqual([
      "<5>poweroff[4242]: requesting poweroff via machine API at /test/machine.sock\n",
      "<5>poweroff[4242]: requested poweroff via machine API: ok\n",
    ]);
  });

  test("init unreachable: one line naming the socket and suggesting -f, exit 1", async () => {
    const d = fakeDeps({ isTTY: true, connectError: new UnreachableError("connect ENOENT") });
    expect(await runPowerApplet("poweroff", [], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toBe("poweroff: cannot reach init at /test/machine.sock: connect ENOENT; `poweroff -f` works without init\n");
    expect(d.rec.calls).toEqual([]);
  });

  test("unreachable with -r suggests the matching forced command", async () => {
    const d = fakeDeps({ isTTY: false, callError: new UnreachableError("14 UNAVAILABLE") });
    expect(await runPowerApplet("poweroff", ["-r"], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toContain("`poweroff -f --reboot` works without init");
    expect(d.rec.kmsg[1]).toStartWith("<3>poweroff[4242]: cannot reach init at /test/machine.sock");
  });

  test("init that never answers counts as unreachable", async () => {
    const d = fakeDeps({ isTTY: true, hang: true });
    expect(await runPowerApplet("poweroff", [], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toMatch(/cannot reach init at \/test\/machine.sock: no answer within 0.05 s; `poweroff -f`/);
    expect(d.rec.calls).toEqual(["power poweroff", "close"]);
  });

  test("init refusing is reported as a failure, not as unreachable", async () => {
    const d = fakeDeps({ isTTY: true, callError: new Error("a reboot sequence is already running") });
    expect(await runPowerApplet("poweroff", [], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toBe("poweroff: requested poweroff via machine API: failed: a reboot sequence is already running\n");
  });
});

describe("poweroff -f: sync and reboot(2), never init", () => {
  for (const [argv, calls] of [
    [["-f"], ["sync", "reboot POWER_OFF"]],
    [["-fn"], ["reboot POWER_OFF"]],
    [
      ["-f", "--halt"],
      ["sync", "reboot HALT"],
    ],
    [["--force", "-r", "--no-sync"], ["reboot RESTART"]],
  ] as [string[], string[]][]) {
    test(argv.join(" "), async () => {
      const d = fakeDeps({ isTTY: true, connectError: new Error("must not connect") });
      expect(await runPowerApplet("poweroff", argv, d.io, d, NOW)).toBe(0);
      expect(d.rec.calls).toEqual(calls);
      expect(d.rec.connects).toEqual([]);
    });
  }

  test("logs to kmsg before reboot(2) when there is no terminal", async () => {
    const d = fakeDeps({ isTTY: false });
    await runPowerApplet("poweroff", ["-f"], d.io, d, NOW);
    expect(d.rec.kmsg).toEqual(["<5>poweroff[4242]: forced poweroff: sync, then reboot(2), without init\n"]);
  });

  test("a failing reboot(2) is reported, exit 1", async () => {
    const d = fakeDeps({ isTTY: true, rebootError: new Error("reboot(POWER_OFF): EPERM") });
    expect(await runPowerApplet("poweroff", ["-f"], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toBe("poweroff: forced poweroff failed: reboot(POWER_OFF): EPERM\n");
  });
});
