// Apply modes on a booted sandbox node (Talos's): dry_run says what would
// change and changes nothing; staged stores the config and applies it only at
// the next boot (a sandbox reboot: init ends by SIGHUP, then the same rootfs
// boots again). Needs root and `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bootSandbox, STORED_CONFIG_IN_ROOTFS, type Sandbox } from "../../../scripts/sandbox.ts";
import { connect } from "../../../src/api/client.ts";

const FIRST = "version: v1alpha1\nmachine:\n  network:\n    hostname: first-node\n";
const SECOND = 'version: v1alpha1\nmachine:\n  network:\n    hostname: second-node\n  sysctls:\n    net.ipv4.ip_forward: "1"\n';

const cleanups: Sandbox[] = [];
afterAll(async () => {
  for (const sb of cleanups) await sb.cleanup();
});

async function boot(opts: { config?: string; rootfs?: string }): Promise<Sandbox> {
  const sb = await bootSandbox(opts.rootfs ? { rootfs: opts.rootfs, privateCopy: false } : { config: opts.config });
  cleanups.push(sb);
  await sb.waitForLine(/all services healthy/, 60_000);
  return sb;
}

describe("apply modes", () => {
  test("dry_run changes nothing and names what would; staged waits for the next boot", async () => {
    let sb = await boot({ config: FIRST });
    const stored = join(sb.rootfs, STORED_CONFIG_IN_ROOTFS);
    let c = connect({ endpoint: `unix:${sb.socketPath}` });
    try {
      const dry = await c.applyConfiguration({ data: SECOND, mode: "no_reboot", dryRun: true });
      expect(dry.mode_details).toMatch(/^dry run: changes machine\.sysctls, machine\.network\.hostname; would be stored and applied live; nothing was changed/);
      expect(dry.mode_details).toContain("+     hostname: second-node");
      expect(dry.mode_details).toContain("-     hostname: first-node");
      expect(readFileSync(stored, "utf8")).toBe(FIRST);
      expect(await c.hostname()).toBe("first-node");
      expect(await c.getConfiguration()).toBe(FIRST);

      const staged = await c.applyConfiguration({ data: SECOND, mode: "staged" });
      expect(staged.mode).toBe("STAGED");
      expect(staged.mode_details).toContain("applied at the next boot");
      expect(staged.needs_reboot).toEqual(["machine.sysctls", "machine.network.hostname"]);
      expect(readFileSync(stored, "utf8")).toBe(SECOND);
      // Stored, not applied: the node is as it was until it boots again.
      expect(await c.hostname()).toBe("first-node");
      expect(await c.getConfiguration()).toBe(FIRST);
    } finally {
      c.close();
    }
    const exit = await sb.stop("SIGINT"); // Ctrl-Alt-Del: reboot
    expect(exit.initSignal).toBe("SIGHUP");
    sb = await boot({ rootfs: sb.rootfs });
    c = connect({ endpoint: `unix:${sb.socketPath}` });
    try {
      expect(await c.hostname()).toBe("second-node");
      expect(await c.getConfiguration()).toBe(SECOND);
    } finally {
      c.close();
    }
  }, 120_000);
});
