// poweroff end to end: a booted node (scripts/sandbox.ts) with real services,
// the applet run inside it as the kernel's usermode helper would run it.
// Needs root and `bun run build`. Safety: see test/helpers/poweroff-node.ts.
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { addKmsg, sandboxSuite, withTimeout } from "../helpers/poweroff-node.ts";

const { boot } = sandboxSuite();

describe("poweroff in a sandboxed node", () => {
  test("env -i, no tty: init runs the shutdown sequence and dies by SIGINT, services stopped, nothing mounted", async () => {
    const node = await boot();
    const r = await node.run(["/sbin/poweroff"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const exit = await withTimeout(node.sb.exited, 30_000, "node exit");
    expect(exit.initSignal).toBe("SIGINT");
    const log = node.console();
    expect(log).toContain("poweroff requested: machine API");
    expect(log).toContain("sequence shutdown: start");
    expect(log).toMatch(/service containerd: Finished: stopped/);
    expect(log).toMatch(/stopServices\/stop services: ok/);
    expect(log).toMatch(/^\S+\s+nothing mounted$/m);
    expect(log).toMatch(/reboot\(POWER_OFF\)/);
  }, 60_000);

  test("poweroff --halt: the halt sequence, init ends by SIGINT", async () => {
    // Talos's API has no halt call: the applet asks init for a halt held for "now".
    const node = await boot();
    const r = await node.run(["/sbin/poweroff", "--halt"]);
    expect(r.code).toBe(0);
    expect((await withTimeout(node.sb.exited, 30_000, "node exit")).initSignal).toBe("SIGINT");
    expect(node.console()).toContain("sequence halt: start");
  }, 60_000);

  test("env -i, no tty: what was asked and the result appear in Dmesg", async () => {
    // The node stops its API within milliseconds of the request, so its Dmesg is
    // read from a second node on the same kernel (one ring buffer for both).
    const [node, observer] = await Promise.all([boot(), boot()]);
    addKmsg(node);
    addKmsg(observer);
    // The ring buffer is shared with the host and other tests: look only at records new since now.
    const dmesg = async () => {
      const lines: string[] = [];
      for await (const l of observer.client().dmesg()) lines.push(l);
      return lines;
    };
    const before = new Set(await dmesg());
    const r = await node.run(["/sbin/poweroff"]);
    expect(r.code).toBe(0);
    expect((await withTimeout(node.sb.exited, 30_000, "node exit")).initSignal).toBe("SIGINT");

    const fresh = (await dmesg()).filter((l) => !before.has(l));
    const asked = fresh.find((l) =>
      /^user:\s+notice: \[.*\]: poweroff\[\d+\]: requesting poweroff via machine API at \/system\/run\/machined\/machine\.sock$/.test(l),
    );
    expect(asked).toBeString();
    const pid = /poweroff\[(\d+)\]/.exec(asked!)![1];
    const after = fresh.slice(fresh.indexOf(asked!) + 1);
    expect(after).toContainEqual(
      expect.stringMatching(new RegExp(`^user:\\s+notice: \\[.*\\]: poweroff\\[${pid}\\]: requested poweroff via machine API: ok$`)),
    );
  }, 60_000);

  test("poweroff -f powers off even when the API socket is gone", async () => {
    const node = await boot();
    rmSync(node.sb.socketPath);
    // Without -f: init unreachable, one line naming the socket and suggesting -f.
    const asked = await node.run(["/sbin/poweroff"]);
    expect(asked.code).toBe(1);
    expect(asked.err).toBe("poweroff: cannot reach init at /system/run/machined/machine.sock: no such socket; `poweroff -f` works without init\n");
    // With -f: sync and reboot(2) from inside the node's PID namespace.
    await node.run(["/sbin/poweroff", "-f"]); // ends by SIGKILL with the namespace
    const exit = await withTimeout(node.sb.exited, 30_000, "node exit");
    expect(exit.initSignal).toBe("SIGINT");
    expect(node.console()).not.toContain("sequence shutdown: start"); // init was bypassed
  }, 60_000);
});
