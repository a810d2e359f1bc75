// Time sync on a real kernel: QEMU starts the guest's clock at 2020-01-01
// (-rtc base=), the guest's only time server is 10.0.2.2:<port>, QEMU's
// address for the host's loopback, where the test runs its NTP responder (the
// real time: offset 0). The guest steps its clock by ~6.9 years at the first
// good answer and reports the time synced. This test alone runs QEMU without
// restrict=on (UDP cannot go through guestfwd); the guest has no DNS and no
// other server configured, so it addresses nothing else.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { stringify } from "yaml";
import { bootVm, ensureImage, type Vm } from "../../scripts/vm.ts";

const RESPONDER = resolve(import.meta.dir, "../fixtures/time/responder.ts");
const PORT = 12300 + (process.pid % 500);
let responder: { kill(sig?: number | NodeJS.Signals): void } | undefined;
let vm: Vm | undefined;

beforeAll(async () => {
  ensureImage();
  const p = Bun.spawn([process.execPath, RESPONDER, "127.0.0.1", `${PORT}=offset:0`], { stdout: "pipe", stderr: "inherit" });
  responder = p;
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => undefined)]);
  if (!first?.value || !Buffer.from(first.value).toString().includes('"ready"')) throw new Error("the test NTP responder did not start");
}, 300_000);

afterAll(async () => {
  await vm?.kill();
  responder?.kill("SIGKILL");
});

describe("time on a real kernel", () => {
  test("a guest whose clock says 2020 steps it to now from the configured server, and reports it synced", async () => {
    const config = { version: "v1alpha1", machine: { time: { servers: [`10.0.2.2:${PORT}`] } } };
    vm = await bootVm({ rtcBase: "2020-01-01", restrict: false, files: { "system/state/config.yaml": stringify(config) } });
    const line = await vm.waitForLine(/minos: time synced: 10\.0\.2\.2:\d+ \(stratum \d+\), offset (-?[\d.]+) ms, (\d+) ms after start/, 240_000);
    const offsetMs = Number(/offset (-?[\d.]+) ms/.exec(line.text)![1]);
    const years = offsetMs / (365.25 * 24 * 3600 * 1000);
    console.log(
      `vm-time: offset ${(offsetMs / 1000).toFixed(0)} s (${years.toFixed(2)} years), ${/(\d+) ms after start/.exec(line.text)![1]} ms from the time phase to synced`,
    );
    // The guest started at 2020-01-01; now is late 2026: a step of more than 6 years, forward.
    expect(years).toBeGreaterThan(6);
    expect(years).toBeLessThan(8);
    // A step was made (not only logged: this is the guest's own kernel).
    expect(vm.log()).not.toContain("log-only adjuster");
    // The clock really moved: a later answer (the next poll, 64 s on) measures the guest within
    // a minute of the responder, not 6.9 years off. It may be a slew or, when TCG's clock drifts
    // past the 0.4 s step threshold in the meantime, a small step.
    const next = await vm.waitForLine(/minos: time: (?:step|slew) -?\d{1,5}\.\d+ ms from 10\.0\.2\.2/, 150_000);
    const [, kind, ms] = /time: (step|slew) (-?[\d.]+) ms/.exec(next.text)!;
    console.log(`vm-time: next answer: ${kind} ${ms} ms`);
    expect(Math.abs(Number(ms))).toBeLessThan(60_000);
    await vm.powerButton();
    expect(await Promise.race([vm.exited, Bun.sleep(60_000).then(() => "timeout")])).toBe(0);
  }, 540_000);
});
