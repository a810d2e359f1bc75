// The machine config at boot, in a sandbox node: an invalid cmdline config is
// passed over and the stored one is used, byte for byte untouched.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { INVALID, VALID } from "../helpers/configs.ts";
import { matching, withNode } from "../helpers/node.ts";

describe("machine config at boot", () => {
  test("booting with an invalid cmdline config uses the stored one and leaves it byte for byte", async () => {
    await withNode(
      { config: VALID, env: { MINOS_CMDLINE: "minos.config=/test/bad.yaml" }, files: [{ path: "/test/bad.yaml", content: INVALID }] },
      async (sb) => {
        await sb.waitForLine(/phase system: done/, 30_000);
        expect(matching(sb, /rejected minos.config= \/test\/bad.yaml: .*invalid machine config/)).toHaveLength(1);
        expect(matching(sb, /machine.sysctls.foo: expected string, got number/).length).toBeGreaterThan(0);
        expect(matching(sb, /using the stored config/)).toHaveLength(1);
        expect(matching(sb, /hostname stored-node/)).toHaveLength(1);
        expect(matching(sb, /machine files: ok/)).toHaveLength(1);
        expect(readFileSync(join(sb.rootfs, "system/state/config.yaml"), "utf8")).toBe(VALID);
        const exit = await sb.stop();
        expect(exit.initSignal).toBe("SIGINT");
        expect(readFileSync(join(sb.rootfs, "system/state/config.yaml"), "utf8")).toBe(VALID);
      },
    );
  }, 60_000);
});
