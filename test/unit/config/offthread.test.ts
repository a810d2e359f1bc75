// The config worker (src/config/offthread.ts, run from source here; the
// sandbox tests run it inside the compiled binary): the same result as the
// inline parse, refusals with the parser's own message, the parse's CPU spent
// on another thread, a time bound, an abort that stops the work, and no
// worker left once idle.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { InvalidArgumentError, ResourceExhaustedError } from "../../../src/lib/errors.ts";
import { ConfigValidator, ValidationAbortedError } from "../../../src/config/offthread.ts";
import { REDACTED } from "../../../src/config/redact.ts";
import { validateConfig } from "../../../src/config/validate.ts";

const keys = (n: number, p: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${p}${i}`, String(i)]));
const KEY = Buffer.from("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n").toString("base64");
const CRT = Buffer.from("-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n").toString("base64");
const BIG = stringify({
  version: "v1alpha1",
  machine: {
    network: { hostname: "big-node" },
    ca: { crt: CRT, key: KEY },
    kubelet: { extraArgs: keys(9_999, "flag-") },
    sysctls: keys(9_999, "net.test.k"),
    env: keys(9_999, "E"),
  },
});

const validators: ConfigValidator[] = [];
const make = (opts: ConstructorParameters<typeof ConfigValidator>[0] = {}) => {
  const v = new ConfigValidator(opts);
  validators.push(v);
  return v;
};
afterAll(() => {
  for (const v of validators) v.close();
});

/** CPU time (ms) of this process's main thread (its tid is the pid). */
function mainThreadCpuMs(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

describe("ConfigValidator", () => {
  test("a 30,000-key config comes back as the inline parse makes it, with the CA key redacted for readers", async () => {
    const v = make();
    const r = await v.validate(Buffer.from(BIG));
    const inline = validateConfig(BIG);
    expect(Bun.deepEquals(r, inline, true)).toBe(true);
    expect(r.text).toBe(BIG);
    expect(r.redaction).toEqual({ text: BIG.replace(KEY, REDACTED) });
    expect(Object.getPrototypeOf(r.config.machine.sysctls)).toBeNull();
  }, 60_000);

  test("the parse's CPU is spent off the calling thread", async () => {
    const v = make();
    await v.validate("version: v1alpha1\n"); // the worker started and loaded
    const cpu0 = mainThreadCpuMs();
    const t0 = performance.now();
    inlineOnce();
    const inlineCpu = mainThreadCpuMs() - cpu0;
    const cpu1 = mainThreadCpuMs();
    await v.validate(BIG);
    const offCpu = mainThreadCpuMs() - cpu1;
    console.log(
      `[figure] 30k-key config: main-thread CPU ${inlineCpu} ms inline, ${offCpu} ms through the worker (wall inline ${(performance.now() - t0).toFixed(0)} ms incl. both)`,
    );
    // Decoding the slices stays on this thread (~5-10% of the parse); the parse itself does not.
    expect(offCpu).toBeLessThan(inlineCpu / 3);
  }, 60_000);

  test("an invalid config is refused with the parser's own InvalidArgumentError message", async () => {
    const v = make();
    const bad = "version: v1alpha1\nmachine:\n  sysctls: [1]\n  bogus: 1\n";
    let inline: unknown;
    try {
      validateConfig(bad);
    } catch (e) {
      inline = e;
    }
    const off = await v.validate(bad).catch((e: unknown) => e);
    expect(off).toBeInstanceOf(InvalidArgumentError);
    expect((off as Error).message).toBe((inline as Error).message);
    const utf8 = await v.validate(Uint8Array.from([0x76, 0xff, 0x0a])).catch((e: unknown) => e);
    expect(utf8).toBeInstanceOf(InvalidArgumentError);
    expect((utf8 as Error).message).toContain("not valid UTF-8");
  });

  test("a validation over the time bound is stopped with RESOURCE_EXHAUSTED; the next one gets a fresh worker", async () => {
    const v = make({ timeoutMs: 50 });
    const t0 = performance.now();
    const e = await v.validate(BIG).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ResourceExhaustedError);
    expect((e as Error).message).toContain("took over 0.05 s");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(v.stats().resident).toBe(false);
    const ok = await v.validate("version: v1alpha1\n", { timeoutMs: 30_000 });
    expect(ok.config.version).toBe("v1alpha1");
    expect(v.stats().started).toBe(2);
  }, 60_000);

  test("an abort stops the worker at once; an already aborted caller never starts one", async () => {
    const v = make();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const t0 = performance.now();
    const e = await v.validate(BIG, { signal: ac.signal }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationAbortedError);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(v.stats()).toEqual({ started: 1, resident: false });
    const gone = await v.validate(BIG, { signal: AbortSignal.abort() }).catch((x: unknown) => x);
    expect(gone).toBeInstanceOf(ValidationAbortedError);
    expect(v.stats().started).toBe(1);
  }, 60_000);

  test("requests run one at a time, in order, each with its own result", async () => {
    const v = make();
    const names = ["a", "b", "c", "d"];
    const rs = await Promise.all(names.map((n) => v.validate(`version: v1alpha1\nmachine:\n  network:\n    hostname: ${n}\n`)));
    expect(rs.map((r) => r.config.machine.network.hostname)).toEqual(names);
    expect(v.stats().started).toBe(1);
  });

  test("the worker is started on demand and terminated once idle", async () => {
    const v = make({ idleMs: 100 });
    expect(v.stats()).toEqual({ started: 0, resident: false });
    await v.validate("version: v1alpha1\n");
    expect(v.stats()).toEqual({ started: 1, resident: true });
    await Bun.sleep(400);
    expect(v.stats().resident).toBe(false);
    await v.validate("version: v1alpha1\n");
    expect(v.stats()).toEqual({ started: 2, resident: true });
  });
});

function inlineOnce(): void {
  validateConfig(BIG);
}
