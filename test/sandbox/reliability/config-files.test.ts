// issue 18 item 4: machine.files only under /var, never through a symlink, and
// a file or network step that fails fails that step, not the boot. Over three
// boots of the same rootfs (each a reboot: init ends by SIGHUP): never the
// emergency path, never a boot loop, the stored config byte for byte as it
// was. Apply time: every path outside /var is refused with INVALID_ARGUMENT
// naming machine.files[i].path. Needs root and `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, STORED_CONFIG_IN_ROOTFS, type Sandbox } from "../../../scripts/sandbox.ts";
import { connect } from "../../../src/api/client.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch((e) => console.error(`cleanup: ${e}`));
});

/** Boots, waits for the API's "all services healthy" (or the emergency path, which fails the test), returns the node. */
async function boot(opts: { rootfs?: string; config?: string }): Promise<Sandbox> {
  const sb = await bootSandbox(opts.rootfs ? { rootfs: opts.rootfs, privateCopy: false } : { config: opts.config });
  cleanups.push(() => sb.cleanup());
  await Promise.race([
    sb.waitForLine(/all services healthy/, 60_000),
    sb.waitForLine(/fatal boot error/, 60_000).then((m) => {
      throw new Error(`emergency path: ${m[0]}`);
    }),
  ]);
  return sb;
}

/** Three boots of one rootfs, a reboot between each; `check` runs on each booted node. */
async function threeBoots(config: string, check: (sb: Sandbox, n: number) => Promise<void>): Promise<void> {
  let sb = await boot({ config });
  const stored = join(sb.rootfs, STORED_CONFIG_IN_ROOTFS);
  for (let n = 1; ; n++) {
    await check(sb, n);
    expect(readFileSync(stored, "utf8")).toBe(config);
    const exit = await sb.stop("SIGINT"); // Ctrl-Alt-Del: reboot
    expect(exit.initSignal).toBe("SIGHUP");
    expect(sb.lines.filter((l) => /fatal boot error|sequence emergency/.test(l))).toEqual([]);
    if (n === 3) return;
    sb = await boot({ rootfs: sb.rootfs });
  }
}

describe("machine.files and static routes", () => {
  test("apply: every path outside /var is INVALID_ARGUMENT naming machine.files[i].path; the stored config is untouched", async () => {
    const base = "version: v1alpha1\nmachine:\n  network:\n    hostname: apply-node\n";
    const sb = await boot({ config: base });
    const stored = join(sb.rootfs, STORED_CONFIG_IN_ROOTFS);
    const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 20_000 });
    try {
      for (const path of [
        "/etc/os-release",
        "/sbin/wrapperd",
        "/system/state/config.yaml",
        "/proc/sys/kernel/domainname",
        "/var",
        "/variable/x",
        "/var//x",
        "/var/./x",
      ]) {
        const cfg = stringify({
          version: "v1alpha1",
          machine: {
            files: [
              { path: "/var/ok", content: "ok" },
              { path, content: "attack\n", op: "overwrite" },
            ],
          },
        });
        const r = await api.applyConfiguration({ data: cfg, mode: "no_reboot" }).then(
          () => ({ code: 0, text: "accepted" }),
          (e: { code?: number; message?: string }) => ({ code: e.code, text: String(e.message) }),
        );
        console.log(`[figure] apply machine.files ${path}: ${r.code === 0 ? "accepted" : `refused ${r.code}`}`);
        expect(r.code).toBe(3);
        expect(r.text).toContain("machine.files[1].path");
        expect(readFileSync(stored, "utf8")).toBe(base);
      }
      // A path under /var is fine.
      const ok = stringify({ version: "v1alpha1", machine: { network: { hostname: "apply-node" }, files: [{ path: "/var/lib/x/y", content: "ok" }] } });
      expect((await api.applyConfiguration({ data: ok, mode: "no_reboot" })).mode_details).toMatch(/stored/);
    } finally {
      api.close();
    }
  }, 120_000);

  test("a stored config (from an older minos) writing outside /var and creating an existing file: the step fails, the boot does not, three boots", async () => {
    // Written straight into the store, as an older minos accepted it: the boot's writer must refuse on its own.
    const config = stringify({
      version: "v1alpha1",
      machine: {
        network: { hostname: "files-node" },
        files: [
          { path: "/var/lib/minos-test/a", content: "first\n", op: "create" },
          { path: "/var/lib/minos-test/a", content: "second\n", op: "create" },
          { path: "/system/state/config.yaml", content: "version: v1alpha1\n", op: "overwrite" },
          { path: "/sbin/wrapperd", content: "#!/bin/sh\n", op: "overwrite" },
          { path: "/etc/os-release", content: "NAME=owned\n", op: "overwrite" },
          { path: "/var/lib/minos-test/b", content: "appended\n", op: "append" },
        ],
      },
    });
    const osRelease = (sb: Sandbox) => readFileSync(join(sb.rootfs, "usr/lib/os-release"), "utf8");
    let osBefore: string | undefined;
    await threeBoots(config, async (sb, n) => {
      osBefore ??= osRelease(sb);
      const init = await sb.initPid();
      const root = `/proc/${init}/root`;
      expect(readFileSync(`${root}/var/lib/minos-test/a`, "utf8")).toBe("first\n");
      expect(readFileSync(`${root}/var/lib/minos-test/b`, "utf8")).toBe("appended\n");
      expect(sb.lines.filter((l) => /machine.files\[1\] \/var\/lib\/minos-test\/a: exists, left as it is/.test(l))).toHaveLength(1);
      for (const i of [2, 3, 4])
        expect(sb.lines.filter((l) => new RegExp(`machine.files\\[${i}\\] .*not written: .*must be under /var/`).test(l))).toHaveLength(1);
      expect(sb.lines.filter((l) => /system\/machine files: failed: 3 of 6 machine files not written/.test(l))).toHaveLength(1);
      expect(osRelease(sb)).toBe(osBefore);
      // Visible through the API: the node answers, and Events carries the "exists" note.
      const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 10_000 });
      try {
        expect(await api.hostname()).toBe("files-node");
        const seen: string[] = [];
        const events = api.events({ tail: -1 });
        const timer = setTimeout(() => events.cancel(), 3000);
        try {
          for await (const e of events) {
            if (e.type.endsWith("ConfigEvent")) seen.push(String(e.payload.message));
            if (seen.some((m) => /exists, left as it is/.test(m))) break;
          }
        } catch {}
        clearTimeout(timer);
        events.cancel();
        expect(seen.some((m) => /machine.files\[1\].*exists, left as it is/.test(m))).toBe(true);
      } finally {
        api.close();
      }
      console.log(`[figure] files boot ${n}: healthy, stored config unchanged`);
    });
  }, 240_000);

  test("a static route via an unreachable gateway fails the network step, not the boot; the other route is still added; three boots", async () => {
    const config = stringify({
      version: "v1alpha1",
      machine: {
        network: {
          hostname: "route-node",
          interfaces: [{ interface: "lo", routes: [{ network: "10.99.0.0/16", gateway: "192.0.2.1" }, { network: "10.98.0.0/16" }] }],
        },
      },
    });
    await threeBoots(config, async (sb, n) => {
      await sb.waitForLine(/network\/interfaces: failed: .*route 10.99.0.0\/16 via 192.0.2.1/, 20_000);
      const init = await sb.initPid();
      const routes = spawnSync("nsenter", ["-t", String(init), "-n", "ip", "-4", "route", "show", "table", "main"], { encoding: "utf8" }).stdout;
      expect(routes).toContain("10.98.0.0/16 dev lo");
      expect(routes).not.toContain("10.99.0.0/16");
      const api = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 10_000 });
      try {
        expect(await api.hostname()).toBe("route-node");
      } finally {
        api.close();
      }
      console.log(`[figure] route boot ${n}: healthy`);
    });
  }, 240_000);
});
