// shutdown entrypoint: flags × TIME → Request, usage errors, and the scheduled /
// cancel / announce-only paths with a fake client. Nothing here reaches reboot(2).
import { describe, expect, test } from "bun:test";
import { dispatch } from "../../../../src/main.ts";
import { main } from "../../../../src/applets/power/main.ts";
import { UnreachableError } from "../../../../src/applets/power/client.ts";
import { formatTime } from "../../../../src/applets/power/execute.ts";
import { runPowerApplet } from "../../../../src/applets/power/main.ts";
import { isHelp, parse, parseTime, UsageError, type Request } from "../../../../src/applets/power/request.ts";
import { fakeDeps, fakeIo } from "../../../helpers/poweroff-fakes.ts";

// Local time, as the node reads hh:mm: 2025-11-27 12:34:20.
const NOW = new Date(2025, 10, 27, 12, 34, 20);
const plus = (min: number) => new Date(NOW.getTime() + min * 60_000);
const at = (day: number, h: number, m: number) => new Date(2025, 10, day, h, m, 0, 0);

function req(argv: string[]): Request {
  const r = parse("shutdown", argv, NOW);
  if (r instanceof UsageError) throw new Error(`unexpected usage error: ${r.message}`);
  if (isHelp(r)) throw new Error("unexpected help");
  return r;
}

describe("shutdown flag × TIME matrix", () => {
  // [argv, action, when, message]
  const rows: [string[], string, "now" | Date, string][] = [
    [[], "poweroff", plus(1), ""], // systemd: no TIME means +1
    [["now"], "poweroff", "now", ""],
    [["-h", "now"], "poweroff", "now", ""],
    [["-P", "now"], "poweroff", "now", ""],
    [["--poweroff", "now"], "poweroff", "now", ""],
    [["-H", "now"], "halt", "now", ""],
    [["-h", "-H", "now"], "halt", "now", ""], // -h with -H halts
    [["--halt", "now"], "halt", "now", ""],
    [["-r", "now"], "reboot", "now", ""],
    [["--reboot", "now"], "reboot", "now", ""],
    [["-r"], "reboot", plus(1), ""],
    [["+0"], "poweroff", "now", ""],
    [["+1"], "poweroff", plus(1), ""],
    [["-r", "+15"], "reboot", plus(15), ""],
    [["+5", "kernel", "upgrade"], "poweroff", plus(5), "kernel upgrade"],
    [["-r", "now", "back", "soon"], "reboot", "now", "back soon"],
    [["now", "-r"], "reboot", "now", ""], // flags may follow TIME
    [["13:00"], "poweroff", at(27, 13, 0), ""],
    [["7:05"], "poweroff", at(28, 7, 5), ""], // already past today: tomorrow
    [["12:34"], "poweroff", at(28, 12, 34), ""], // this minute has begun: tomorrow
    [["12:35"], "poweroff", at(27, 12, 35), ""],
    [["00:00"], "poweroff", at(28, 0, 0), ""],
    [["23:59", "--", "-late"], "poweroff", at(27, 23, 59), "-late"],
  ];
  for (const [argv, action, when, message] of rows) {
    test(`shutdown ${argv.join(" ")}`, () => {
      const r = req(argv);
      expect(r.applet).toBe("shutdown");
      expect(r.action).toBe(action as Request["action"]);
      expect(r.when).toEqual(when);
      expect(r.message).toBe(message);
      expect(r.force).toBe(false);
      expect(r.cancel).toBe(false);
      expect(r.announceOnly).toBe(false);
      expect(r.wall).toBe(true);
    });
  }

  test("-c cancels; every word after it is the message", () => {
    const r = req(["-c", "false", "alarm"]);
    expect(r.cancel).toBe(true);
    expect(r.message).toBe("false alarm");
  });

  test("-k only announces, TIME still parsed", () => {
    const r = req(["-k", "-r", "+10", "maintenance"]);
    expect({ announceOnly: r.announceOnly, action: r.action, when: r.when, message: r.message }).toEqual({
      announceOnly: true,
      action: "reboot",
      when: plus(10),
      message: "maintenance",
    });
  });

  test("--no-wall", () => expect(req(["--no-wall", "+3"]).wall).toBe(false));

  test("--help is help; -h is not", () => {
    const h = parse("shutdown", ["--help"], NOW);
    expect(!(h instanceof UsageError) && isHelp(h)).toBe(true);
    expect(req(["-h"]).action).toBe("poweroff");
  });

  const bad: [string[], RegExp][] = [
    [["-w"], /unknown flag -w/],
    [["-f", "now"], /unknown flag -f/],
    [["--bogus"], /unknown flag --bogus/],
    [["soon"], /bad TIME "soon"/],
    [["+"], /bad TIME/],
    [["+1h"], /bad TIME/],
    [["-5"], /bad TIME "-5"/],
    [["24:00"], /bad TIME "24:00"/],
    [["12:60"], /bad TIME/],
    [["12:5"], /bad TIME/],
    [["+9999999"], /bad TIME/],
    [["+999999"], /at most/],
    [["-r", "-H", "now"], /conflicting actions/],
    [["-c", "-k"], /cannot be combined/],
  ];
  for (const [argv, why] of bad) {
    test(`shutdown ${argv.join(" ")} is a usage error`, () => {
      const r = parse("shutdown", argv, NOW);
      expect(r).toBeInstanceOf(UsageError);
      expect((r as UsageError).message).toMatch(why);
    });
  }

  test("parseTime alone", () => {
    expect(parseTime("now", NOW)).toBe("now");
    expect(parseTime("+60", NOW)).toEqual(plus(60));
    expect(() => parseTime("tomorrow", NOW)).toThrow(UsageError);
  });
});

describe("shutdown bad input: one usage line, exit 1, nothing sent", () => {
  for (const argv of [["-w"], ["soon"], ["25:00"], ["-r", "-H"]]) {
    test(argv.join(" "), async () => {
      const d = fakeDeps({ isTTY: true });
      expect(await runPowerApplet("shutdown", argv, d.io, d, NOW)).toBe(1);
      expect(d.rec.io.err.split("\n")).toEqual([expect.stringMatching(/^shutdown: .*\(usage: shutdown \[-h\|-P\|--poweroff\] .*\)$/), ""]);
      expect(d.rec.connects).toEqual([]);
      expect(d.rec.calls).toEqual([]);
    });
  }

  test("through the applet entrypoint and the dispatch table", async () => {
    const viaMain = fakeIo(true);
    expect(await main(["+x"], viaMain, "shutdown")).toBe(1);
    expect(viaMain.err).toMatch(/^shutdown: bad TIME "\+x"/);
    expect(await dispatch("/sbin/shutdown", ["-w"], fakeIo(true))).toBe(1);
    const help = fakeIo(true);
    expect(await dispatch("minos", ["shutdown", "--help"], help)).toBe(0);
    expect(help.out).toContain("shutdown -c");
  });
});

describe("shutdown asks init", () => {
  test("now → the action at once", async () => {
    const d = fakeDeps({ isTTY: true });
    expect(await runPowerApplet("shutdown", ["-r", "now"], d.io, d, NOW)).toBe(0);
    expect(d.rec.calls).toEqual(["power reboot", "close"]);
    // The wall goes to the console (kmsg) even from a terminal.
    expect(d.rec.kmsg).toEqual(["<5>shutdown[4242]: The system will reboot now\n"]);
  });

  test("+m → init holds a scheduled shutdown with the message", async () => {
    const d = fakeDeps({ isTTY: true });
    expect(await runPowerApplet("shutdown", ["+5", "disk", "swap"], d.io, d, NOW)).toBe(0);
    expect(d.rec.calls).toEqual([`schedule poweroff ${plus(5).toISOString()} "disk swap"`, "close"]);
    expect(d.rec.io.out).toBe(`shutdown: poweroff scheduled for ${formatTime(plus(5))}; \`shutdown -c\` cancels it\n`);
    expect(d.rec.kmsg).toEqual([`<5>shutdown[4242]: The system will power off at ${formatTime(plus(5))}: disk swap\n`]);
  });

  test("--no-wall: scheduled, not announced", async () => {
    const d = fakeDeps({ isTTY: true });
    expect(await runPowerApplet("shutdown", ["--no-wall", "-H", "+2"], d.io, d, NOW)).toBe(0);
    expect(d.rec.calls).toEqual([`schedule halt ${plus(2).toISOString()} ""`, "close"]);
    expect(d.rec.kmsg).toEqual([]);
  });

  test("no terminal: request and result in kmsg as well", async () => {
    const d = fakeDeps({ isTTY: false });
    expect(await runPowerApplet("shutdown", ["--no-wall", "-r", "+1"], d.io, d, NOW)).toBe(0);
    expect(d.rec.kmsg).toEqual([
      `<5>shutdown[4242]: requesting reboot at ${formatTime(plus(1))} via machine API at /test/machine.sock\n`,
      `<5>shutdown[4242]: requested reboot at ${formatTime(plus(1))} via machine API: ok\n`,
    ]);
  });

  test("-c cancels", async () => {
    const d = fakeDeps({ isTTY: true, scheduled: true });
    expect(await runPowerApplet("shutdown", ["-c"], d.io, d, NOW)).toBe(0);
    expect(d.rec.calls).toEqual(["cancel", "close"]);
    expect(d.rec.io.out).toBe("shutdown: scheduled shutdown cancelled\n");
    expect(d.rec.kmsg).toEqual(["<5>shutdown[4242]: The scheduled shutdown has been cancelled\n"]);
  });

  test("-c with nothing scheduled is not an error", async () => {
    const d = fakeDeps({ isTTY: false, scheduled: false });
    expect(await runPowerApplet("shutdown", ["-c"], d.io, d, NOW)).toBe(0);
    expect(d.rec.io.out).toBe("shutdown: no shutdown was scheduled\n");
    expect(d.rec.kmsg.at(-1)).toBe("<5>shutdown[4242]: requested cancel of the scheduled shutdown via machine API: ok (nothing was scheduled)\n");
  });

  test("-k announces and sends nothing", async () => {
    const d = fakeDeps({ isTTY: true, connectError: new Error("must not connect") });
    expect(await runPowerApplet("shutdown", ["-k", "-r", "+10", "drill"], d.io, d, NOW)).toBe(0);
    expect(d.rec.connects).toEqual([]);
    expect(d.rec.kmsg).toEqual([`<5>shutdown[4242]: The system will reboot at ${formatTime(plus(10))}: drill\n`]);
    expect(d.rec.io.out).toContain("announcement only");
  });

  test("unreachable init: socket named, -f suggested, exit 1", async () => {
    const d = fakeDeps({ isTTY: true, connectError: new UnreachableError("no such socket") });
    expect(await runPowerApplet("shutdown", ["-r", "now"], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toBe("shutdown: cannot reach init at /test/machine.sock: no such socket; `poweroff -f --reboot` works without init\n");
    expect(d.rec.kmsg).toEqual([]); // nothing announced that did not happen
  });

  test("unreachable init on -c: no -f suggestion", async () => {
    const d = fakeDeps({ isTTY: true, connectError: new UnreachableError("no such socket") });
    expect(await runPowerApplet("shutdown", ["-c"], d.io, d, NOW)).toBe(1);
    expect(d.rec.io.err).toBe("shutdown: cannot reach init at /test/machine.sock: no such socket\n");
  });
});
