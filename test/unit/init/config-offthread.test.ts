// The boot's config load through the config worker (loadConfigOffThread): the
// same source order and refusals as loadConfig, each source's reader
// redaction made at once, and a worker that cannot run costing nothing but
// time (the boot parses inline rather than falling back to the default).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigValidator } from "../../../src/config/offthread.ts";
import { loadConfig, loadConfigOffThread } from "../../../src/init/config/store.ts";
import { INVALID, VALID } from "../../helpers/configs.ts";

const dir = mkdtempSync(join(tmpdir(), "minos-load-offthread-"));
const validators: ConfigValidator[] = [];
afterAll(() => {
  for (const v of validators) v.close();
  rmSync(dir, { recursive: true, force: true });
});
const validator = (entry?: string) => {
  const v = new ConfigValidator(entry ? { entry } : {});
  validators.push(v);
  return v;
};

describe("loadConfigOffThread", () => {
  test("an invalid cmdline config is passed over for the stored one, as loadConfig does; the redaction comes along", async () => {
    const cmdline = join(dir, "cmdline.yaml");
    const stored = join(dir, "stored.yaml");
    writeFileSync(cmdline, INVALID);
    writeFileSync(stored, VALID);
    const off = await loadConfigOffThread(validator(), cmdline, stored, undefined, 0);
    const inline = loadConfig(cmdline, stored);
    expect(off.source).toBe("stored");
    expect(off.text).toBe(VALID);
    expect(Bun.deepEquals(off.config, inline.config)).toBe(true);
    expect(off.rejected).toEqual(inline.rejected);
    expect(off.redaction).toEqual({ text: VALID });
  });

  test("no source: the default, with its own text as its redaction", async () => {
    const off = await loadConfigOffThread(validator(), undefined, join(dir, "absent.yaml"));
    expect(off.source).toBe("default");
    expect(off.redaction).toEqual({ text: off.text });
  });

  test("a worker that cannot start: the stored config is still loaded (inline), and the failure is reported", async () => {
    const stored = join(dir, "stored2.yaml");
    writeFileSync(stored, VALID);
    const failures: string[] = [];
    const off = await loadConfigOffThread(validator(join(dir, "no-such-worker.ts")), undefined, stored, (w) => failures.push(w), 0);
    expect(off.source).toBe("stored");
    expect(off.text).toBe(VALID);
    expect(failures.length).toBe(1);
    expect(failures[0]).toContain("config worker failed");
  });

  test("a config up to the inline size is validated without the worker; a larger one with it", async () => {
    const stored = join(dir, "stored3.yaml");
    writeFileSync(stored, VALID);
    const v = validator();
    const small = await loadConfigOffThread(v, undefined, stored);
    expect(small.source).toBe("stored");
    expect(small.redaction).toEqual({ text: VALID });
    expect(v.stats().started).toBe(0);
    const big = await loadConfigOffThread(v, undefined, stored, undefined, VALID.length - 1);
    expect(Bun.deepEquals(big.config, small.config)).toBe(true);
    expect(big.redaction).toEqual(small.redaction);
    expect(v.stats().started).toBe(1);
  });
});
