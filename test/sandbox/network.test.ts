// The network phase in a booted sandbox node: static interfaces applied through
// rtnetlink, a missing interface logged and not fatal.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { configWith, matching, withNode } from "../helpers/node.ts";

describe("network in the sandbox", () => {
  test("machine.network.interfaces on lo: address (rtnetlink), on-link route, mtu; a missing interface is logged, not fatal", async () => {
    const config = configWith([], {
      network: {
        interfaces: [
          { interface: "lo", addresses: ["127.0.0.2/8"], routes: [{ network: "10.99.0.0/16" }], mtu: 1500 },
          { interface: "eth7", addresses: ["10.0.0.2/24"] },
        ],
      },
    });
    await withNode({ config }, async (sb) => {
      await sb.waitForLine(/phase network: done/, 60_000);
      const init = await sb.initPid();
      // The sandbox's own network namespace, seen from the host through init's /proc.
      expect(readFileSync(`/proc/${init}/net/fib_trie`, "utf8")).toMatch(/127\.0\.0\.2\n\s+\/32 host LOCAL/);
      const routes = readFileSync(`/proc/${init}/net/route`, "utf8");
      expect(routes).toMatch(/^lo\s+0000630A\s+00000000\s+0001\s.*\s0000FFFF\s/m); // 10.99.0.0/16, no gateway
      expect(readFileSync(`/proc/${init}/root/sys/class/net/lo/mtu`, "utf8").trim()).toBe("1500");
      expect(matching(sb, /lo \(ifindex 1\) up, mtu 1500: 127\.0\.0\.2\/8; routes 10\.99\.0\.0\/16/)).toHaveLength(1);
      expect(matching(sb, /eth7: no such interface after 10 s \(the sandbox's network namespace has only lo\): not configured/)).toHaveLength(1);
      expect(matching(sb, /udev\/coldplug: skipped \(sandbox: the devices and their uevents are the host's\)/)).toHaveLength(1);
    });
  }, 60_000);

  test("nothing configured: the network phase is skipped with its reason", async () => {
    await withNode({}, async (sb) => {
      await sb.waitForLine(
        /network\/interfaces: skipped \(no machine.network.interfaces, no usable ip= on the kernel cmdline, and no physical link with carrier/,
        30_000,
      );
    });
  }, 60_000);
});
