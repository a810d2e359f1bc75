// issue 18 item 5 (part): a call whose client has gone changes nothing. A big
// but valid config (three maps of 9,999 keys each, under the 10,000-entry
// limit, ~0.5 MB) takes the parser a few hundred ms; the client's 100 ms
// deadline passes meanwhile. Once the node answers again, the stored config,
// the hostname and GetConfiguration are still the old ones, and the node logged
// that it dropped the apply. Meanwhile PID 1's loop keeps answering: Version
// within 100 ms (the parse runs in the config worker). A config over the
// limits (40,000 keys in one map) is refused at once. Needs root and `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, STORED_CONFIG_IN_ROOTFS, type Sandbox } from "../../../scripts/sandbox.ts";
import { procStat } from "../../helpers/node.ts";
import { connect } from "../../../src/api/client.ts";

const SMALL = "version: v1alpha1\nmachine:\n  network:\n    hostname: small-node\n";
const keys = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, String(i)]));
export const BIG = stringify({
  version: "v1alpha1",
  machine: {
    network: { hostname: "big-node" },
    kubelet: { extraArgs: keys(9_999, "flag-") },
    sysctls: keys(9_999, "net.test.k"),
    env: keys(9_999, "E"),
  },
});
const OVER = stringify({ version: "v1alpha1", machine: { network: { hostname: "over-node" }, kubelet: { extraArgs: keys(40_000, "flag-") } } });

let sb: Sandbox | undefined;
afterAll(async () => {
  await sb?.cleanup();
});

describe("a client that has gone", () => {
  test("an apply whose deadline passed while the node parsed stores and applies nothing", async () => {
    sb = await bootSandbox({ config: SMALL });
    await sb.waitForLine(/all services healthy/, 60_000);
    const stored = join(sb.rootfs, STORED_CONFIG_IN_ROOTFS);
    const pinger = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 300_000 });
    const hasty = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 100 });
    try {
      const init = await sb.initPid();
      // Up to three rounds: this host is shared, and a node whose loop never blocks still waits for a
      // CPU now and then (measured inside PID 1: 100-500 ms runqueue waits with no JS running), so the
      // bound must hold in one round; a parse on the loop (0.5-4 s here) cannot meet it in any. Every
      // round must leave the node unchanged.
      const rounds: { worst: number; dropped: number; stored: string; hostname: string; config: string }[] = [];
      for (let round = 0; round < 3; round++) {
        // Connected first (the deadline is per call): the 100 ms must pass while the node validates, not while dialling.
        for (let i = 0; ; i++) {
          const ok = await hasty.version().then(
            () => true,
            () => false,
          );
          if (ok) break;
          if (i === 20) throw new Error("the 100 ms client never got a Version answer");
        }
        await pinger.version();
        let worst = 0;
        let pinging = true;
        const pings = (async () => {
          while (pinging) {
            const t0 = performance.now();
            await pinger.version();
            worst = Math.max(worst, performance.now() - t0);
            await Bun.sleep(20);
          }
        })();
        const cpu0 = procStat(init).cpuTicks;
        const t0 = performance.now();
        const r = await hasty.applyConfiguration({ data: BIG, mode: "no_reboot" }).then(
          () => ({ code: 0 }),
          (e: { code?: number }) => ({ code: e.code }),
        );
        expect(r.code).toBe(4); // DEADLINE_EXCEEDED on the client's side
        // Wait until the node is free again (its answer to Version), then a little longer for any late store.
        await pinger.version();
        const busyMs = performance.now() - t0;
        await Bun.sleep(1000);
        pinging = false;
        await pings;
        // CPU time is the figure to compare across runs: wall time depends on what else the machine runs.
        const cpuS = (procStat(init).cpuTicks - cpu0) / 100;
        const dropped = sb.lines.filter((l) => l.includes("the client went away")).length;
        console.log(
          `[figure] round ${round + 1}: 30k-key apply with a 100 ms deadline: PID 1 CPU ${cpuS.toFixed(1)} s, node busy ${(busyMs / 1000).toFixed(1)} s, worst Version wait ${worst.toFixed(0)} ms, stored ${readFileSync(stored, "utf8") === SMALL ? "old" : "NEW"}, drops logged: ${dropped}`,
        );
        rounds.push({ worst, dropped, stored: readFileSync(stored, "utf8"), hostname: await pinger.hostname(), config: await pinger.getConfiguration() });
        if (worst < 100) break;
      }
      expect(Math.min(...rounds.map((r) => r.worst))).toBeLessThan(100);
      // The node saw an apply and dropped it (on a busy host a 0.5 MB request may also arrive after its deadline and
      // never reach the handler), and nothing changed in any round.
      expect(rounds[rounds.length - 1]!.dropped).toBeGreaterThanOrEqual(1);
      rounds.forEach((r) => {
        expect(r.stored).toBe(SMALL);
        expect(r.hostname).toBe("small-node");
        expect(r.config).toBe(SMALL);
      });
      // Over the limits: refused at once, naming the limit, nothing changed.
      const t1 = performance.now();
      const over = await pinger.applyConfiguration({ data: OVER, mode: "no_reboot" }).then(
        () => ({ code: 0, details: "" }),
        (e: { code?: number; details?: string }) => ({ code: e.code, details: e.details ?? "" }),
      );
      const overMs = performance.now() - t1;
      console.log(`[figure] 40k-key config refused in ${overMs.toFixed(0)} ms: ${over.details.split("\n")[1] ?? over.details}`);
      expect(over.code).toBe(3); // INVALID_ARGUMENT
      expect(over.details).toContain("10000");
      // Under 1 s on a quiet 2-core machine; the bound leaves room for a loaded one (1.4 s was seen at load 8).
      expect(overMs).toBeLessThan(2500);
      expect(readFileSync(stored, "utf8")).toBe(SMALL);
    } finally {
      pinger.close();
      hasty.close();
    }
  }, 300_000);
});
