// init's log on a kernel boot vs the sandbox: lines held until /dev/kmsg is
// attached and replayed into it; once kmsg carries the console, each line is
// written once (to kmsg); a kmsg that never comes releases the held lines to
// the console; long lines are split into records the kernel accepts; and the
// boot reads the kernel cmdline only after /proc is mounted, attaches kmsg
// right after /dev.
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootSequence } from "../../../src/init/sequences/boot.ts";
import { KMSG_RECORD_BYTES, kmsgRecords, NodeLog, stdoutIsKernelConsole } from "../../../src/init/mechanisms/log.ts";
import { NodeContext } from "../../../src/init/context.ts";
import { NO_FAULTS } from "../../../src/init/faults.ts";

let dir: string;
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A log whose console and "kmsg" are files. */
function setup(holdForKmsg: boolean) {
  dir = mkdtempSync(join(tmpdir(), "minos-log-"));
  const consolePath = join(dir, "console");
  const kmsgPath = join(dir, "kmsg");
  writeFileSync(kmsgPath, "");
  const fd = openSync(consolePath, "w");
  fds.push(fd);
  const log = new NodeLog({ console: fd, holdForKmsg });
  const read = (p: string) => readFileSync(p, "utf8").split("\n").filter(Boolean);
  // Console writes are asynchronous (never blocking the loop): read the file once the log has written it.
  const console = async () => {
    await log.drainConsole(1000);
    return read(consolePath);
  };
  return { log, kmsgPath, console, kmsg: () => read(kmsgPath) };
}

describe("init's log", () => {
  test("kernel boot: early lines are held, replayed into kmsg on attach, then every line goes to kmsg only", async () => {
    const { log, kmsgPath, console, kmsg } = setup(true);
    log.info("before kmsg");
    log.warn("rejected something");
    expect(await console()).toEqual([]); // held, not printed twice later
    expect(log.attachKmsg(kmsgPath, true)).toBeUndefined();
    log.info("after kmsg");
    expect(kmsg()).toEqual(["<6>minos: before kmsg", "<4>minos: warn: rejected something", "<6>minos: after kmsg"]);
    expect(await console()).toEqual([]); // the kernel prints kmsg on its console
    expect(log.ring.tail().map((l) => l.replace(/^\S+ /, ""))).toEqual(["before kmsg", "warn: rejected something", "after kmsg"]);
    // The shutdown closes kmsg before unmounting /dev: later lines go to the console.
    log.close();
    log.info("  unmounted 9");
    expect(await console()).toEqual(["[minos]   unmounted 9"]);
  });

  test("kmsg that is not the console's: lines go to both, held ones too", async () => {
    const { log, kmsgPath, console, kmsg } = setup(true);
    log.info("early");
    log.attachKmsg(kmsgPath, false);
    log.info("late");
    expect(kmsg()).toEqual(["<6>minos: early", "<6>minos: late"]);
    expect(await console()).toEqual(["[minos] early", "[minos] late"]);
  });

  test("no kmsg: held lines go to the console, in order, then every line does", async () => {
    const { log, console } = setup(true);
    log.info("one");
    expect(log.attachKmsg(join(dir, "no/such/kmsg"), true)).toMatch(/ENOENT/);
    log.info("two");
    expect(await console()).toEqual(["[minos] one", "[minos] two"]);
  });

  test("sandbox: nothing held, the console has every line", async () => {
    const { log, console } = setup(false);
    log.info("one");
    log.error("two");
    expect(await console()).toEqual(["[minos] one", "[minos] error: two"]);
  });

  test("a console nobody reads does not block the event loop: lines past the queue's bound are counted, and the count is written once it reads", async () => {
    // A FIFO whose reader starts a second late: the kernel's 64 KiB fill, then write(2) blocks (on a pool thread).
    dir = mkdtempSync(join(tmpdir(), "minos-log-"));
    const fifo = join(dir, "console");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const out = join(dir, "out");
    const reader = Bun.spawn(["sh", "-c", `sleep 1; cat "${fifo}" > "${out}"`]);
    const pipeFd = openSync(fifo, "r+"); // read-write: opening does not wait for the reader
    const log = new NodeLog({ console: pipeFd });
    let ticks = 0;
    const tick = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    const line = "x".repeat(1000);
    for (let i = 0; i < 3000; i++) log.info(line); // ~3 MiB: past the pipe and the 1 MiB queue
    const logMs = performance.now() - t0;
    await Bun.sleep(300);
    clearInterval(tick);
    // Logging 3 MiB to a blocked console returned at once and the loop kept turning meanwhile.
    expect(logMs).toBeLessThan(500);
    expect(ticks).toBeGreaterThan(10);
    await log.drainConsole(10_000);
    closeSync(pipeFd); // the last writer: cat sees the end
    await reader.exited;
    const lines = readFileSync(out, "utf8").split("\n").filter(Boolean);
    const notice = lines.find((l) => /lines not written to the console/.test(l));
    expect(notice).toBeDefined();
    const dropped = Number(/warn: (\d+) lines not written/.exec(notice!)![1]);
    // Every line is either on the console or counted in the notice.
    expect(lines.filter((l) => l === `[minos] ${line}`).length + dropped).toBe(3000);
    expect(dropped).toBeGreaterThan(0);
  });

  test("long and multi-line messages become records the kernel accepts (<= LOG_LINE_MAX)", () => {
    const long = "é".repeat(1000); // 2000 bytes
    const recs = kmsgRecords(long);
    expect(recs.length).toBe(3);
    for (const r of recs) expect(Buffer.byteLength(r)).toBeLessThanOrEqual(KMSG_RECORD_BYTES);
    expect(recs.join("")).toBe(long);
    expect(kmsgRecords("a\n  b")).toEqual(["a", "  b"]);
  });

  test("/dev/null is not the kernel's console (5:1)", () => {
    const fd = openSync("/dev/null", "r");
    fds.push(fd);
    expect(stdoutIsKernelConsole(fd)).toBe(false);
  });
});

describe("boot order", () => {
  test("/proc is mounted before the kernel cmdline is read; kmsg is attached right after /dev", () => {
    const node = new NodeContext({ sandbox: false, env: {}, faults: NO_FAULTS, runPowerAction: async () => {} });
    const tasks = bootSequence(node).phases.flatMap((p) => p.tasks.map((t) => `${p.name}/${t.name}`));
    const at = (name: string) => {
      const i = tasks.indexOf(name);
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at("earlyMounts/mount /proc (proc)")).toBeLessThan(at("config/read kernel cmdline"));
    expect(at("config/read kernel cmdline")).toBeLessThan(at("config/load machine config"));
    // Nothing but /dev's own preparation between mounting /dev and attaching kmsg.
    const dev = at("earlyMounts/mount /dev (devtmpfs)");
    expect(tasks.slice(dev + 1, at("kmsg/attach /dev/kmsg"))).toEqual(["earlyMounts/populate /dev", "earlyMounts/console", "kmsg/unlimited /dev/kmsg"]);
    // The API answers while PID 1 moves into /init (a kernel wait); the services need the tree.
    expect(at("api/machine API")).toBeLessThan(at("cgroups/cgroup tree"));
    expect(at("cgroups/cgroup tree")).toBeLessThan(at("services/start services"));
    // udevd runs (services) before the coldplug, which comes before the power button and the network.
    expect(at("services/start services")).toBeLessThan(at("udev/coldplug"));
    expect(at("udev/coldplug")).toBeLessThan(at("powerButton/watch the power button (after coldplug)"));
    expect(at("udev/coldplug")).toBeLessThan(at("network/interfaces"));
    // The power button is watched right after kmsg (a press during the boot counts), then again as
    // soon as the present devices' drivers are loaded; the system disk is mounted before the config
    // is read, and the maintenance wait comes before anything that needs a config.
    expect(tasks[at("kmsg/attach /dev/kmsg") + 1]).toBe("drivers/watch the power button (at start)");
    expect(at("drivers/load drivers of present devices")).toBeLessThan(at("state/mount the system disk"));
    expect(at("state/mount the system disk")).toBeLessThan(at("config/load machine config"));
    expect(at("state/mount the system disk")).toBeLessThan(at("mounts/mount /var (tmpfs)"));
    expect(at("config/load machine config")).toBeLessThan(at("maintenance/wait for a config (maintenance API)"));
    expect(at("maintenance/wait for a config (maintenance API)")).toBeLessThan(at("logging/" + tasks.find((t) => t.startsWith("logging/"))!.slice(8)));
    expect(at("maintenance/wait for a config (maintenance API)")).toBeLessThan(at("services/start services"));
  });

  test("constructing the node reads no cmdline (a kernel boot has no /proc yet)", () => {
    // In the sandbox the stand-in is the environment; it is read only when loaded.
    const node = new NodeContext({ sandbox: true, env: { MINOS_CMDLINE: "panic=0 minos.config=/x" }, faults: NO_FAULTS, runPowerAction: async () => {} });
    expect(node.loadCmdline().params.get("minos.config")).toBe("/x");
    expect(node.cmdline.params.get("panic")).toBe("0");
  });
});
