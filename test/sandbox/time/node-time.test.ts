// Time on a booted sandbox node: the time phase syncs with a real NTP server
// (Debian's chronyd, -x so it never touches a clock) that the test runs inside
// the node's own network namespace on 127.0.0.1; the sandbox's clock is the
// host's, so the node only logs the offset it would apply. time.TimeService
// answers Time (the configured server) and TimeCheck (a named one: a test
// responder 1 h ahead, and a closed port).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Sandbox } from "../../../scripts/sandbox.ts";
import { connect, type MachineClient } from "../../../src/api/client.ts";
import { Code } from "../../../src/api/status.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { configWith, matching, withNode } from "../../helpers/node.ts";

const BUN = process.execPath;
const RESPONDER = resolve(import.meta.dir, "../../fixtures/time/responder.ts");
const chronyd = Bun.which("chronyd") ?? ["/usr/sbin/chronyd", "/sbin/chronyd"].find((p) => existsSync(p));
const secs = (t: { seconds: number; nanos: number } | null) => (t ? t.seconds + t.nanos / 1e9 : Number.NaN);

describe("time on a sandbox node", () => {
  let tmp = "";
  const procs: ReturnType<typeof Bun.spawn>[] = [];
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "minos-node-time-"));
  });
  afterAll(() => {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });

  /** chronyd and the +1 h responder inside the node's network namespace (its only link is lo). */
  async function serversIn(sb: Sandbox): Promise<void> {
    if (!chronyd) throw new Error("needs chronyd: apt-get install -y --no-install-recommends chrony");
    const pid = await sb.initPid();
    const conf = join(tmp, "chrony.conf");
    writeFileSync(
      conf,
      ["local stratum 8", "allow all", "port 123", "cmdport 0", "bindaddress 127.0.0.1", `pidfile ${tmp}/chronyd.pid`, `driftfile ${tmp}/drift`, ""].join("\n"),
    );
    const log = join(tmp, "chronyd.log");
    procs.push(Bun.spawn(["nsenter", "-t", String(pid), "-n", chronyd, "-x", "-d", "-f", conf], { stdout: "ignore", stderr: Bun.file(log) }));
    const responder = Bun.spawn(["nsenter", "-t", String(pid), "-n", BUN, RESPONDER, "127.0.0.1", "1123=offset:3600"], { stdout: "pipe", stderr: "inherit" });
    procs.push(responder);
    const reader = responder.stdout.getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => undefined)]);
    if (!first?.value || !Buffer.from(first.value).toString().includes('"ready"')) throw new Error("the test NTP responder did not start");
    for (let i = 0; i < 200 && !(existsSync(log) && readFileSync(log, "utf8").includes("Disabled control of system clock")); i++) await Bun.sleep(50);
  }

  test("synced from the configured server (offset logged, the host's clock untouched); Time and TimeCheck answer", async () => {
    const config = configWith([], { time: { servers: ["127.0.0.1"] } });
    await withNode({ config }, async (sb) => {
      await sb.waitForLine(/phase time: done/, 30_000);
      const hostBefore = Date.now() - performance.now();
      await serversIn(sb);
      const line = await sb.waitForLine(/time synced: 127\.0\.0\.1 \(stratum \d+\), offset (-?[\d.]+) ms/, 30_000);
      expect(Math.abs(Number(line[1]))).toBeLessThan(100);
      expect(matching(sb, /would step the clock by .* \(log-only adjuster, clock untouched\)/).length).toBeGreaterThan(0);
      // The wall clock of this process moved with the monotonic one: nothing stepped it.
      expect(Math.abs(Date.now() - performance.now() - hostBefore)).toBeLessThan(1000);

      const c: MachineClient = connect({ endpoint: `unix:${sb.socketPath}` });
      try {
        const t = (await c.call("time.TimeService", "Time", {})).messages[0]!;
        expect(t.server).toBe("127.0.0.1");
        expect(Math.abs(secs(t.remotetime) - secs(t.localtime))).toBeLessThan(1);
        const ahead = (await c.call("time.TimeService", "TimeCheck", { server: "127.0.0.1:1123" })).messages[0]!;
        expect(ahead.server).toBe("127.0.0.1:1123");
        expect(secs(ahead.remotetime) - secs(ahead.localtime)).toBeGreaterThan(3590);
        expect(secs(ahead.remotetime) - secs(ahead.localtime)).toBeLessThan(3610);
        const closed = await c.call("time.TimeService", "TimeCheck", { server: "127.0.0.1:1999" }).then(
          () => undefined,
          (e: { code: number; details: string }) => e,
        );
        expect(closed?.code).toBe(Code.UNAVAILABLE);
        expect(closed?.details).toContain("127.0.0.1:1999");
        // minosctl time: the same through the CLI, as talosctl time prints it.
        const io = captureIo({ HOME: tmp });
        expect(await main(["-n", `unix:${sb.socketPath}`, "time", "--check", "127.0.0.1:1123"], io)).toBe(0);
        expect(io.out).toMatch(/NTP-SERVER[\s\S]*127\.0\.0\.1:1123[\s\S]*\b(3599|3600)\d{3}\.\d ms/);
      } finally {
        c.close();
      }
    });
  }, 90_000);

  test("machine.time.disabled: the phase is skipped with its reason, Time has no server", async () => {
    const config = configWith([], { time: { disabled: true } });
    await withNode({ config }, async (sb) => {
      await sb.waitForLine(/time\/time sync: skipped \(machine\.time\.disabled\)/, 30_000);
      const c = connect({ endpoint: `unix:${sb.socketPath}` });
      try {
        const e = await c.call("time.TimeService", "Time", {}).then(
          () => undefined,
          (err: { code: number }) => err,
        );
        expect(e?.code).toBe(Code.FAILED_PRECONDITION);
      } finally {
        c.close();
      }
    });
  }, 60_000);
});
