// issue 18 item 5 (part): a call whose client has gone changes nothing. A big
// but valid config (40,000 kubelet.extraArgs keys) takes the YAML library
// seconds to parse; the client's 3 s deadline passes meanwhile. Once the node
// answers again, the stored config, the hostname and GetConfiguration are
// still the old ones. Also prints how long Version calls waited meanwhile
// (the figure the schema parser must bring under 100 ms). Needs root and
// `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { bootSandbox, STORED_CONFIG_IN_ROOTFS, type Sandbox } from "../../../scripts/sandbox.ts";
import { procStat } from "../../helpers/node.ts";
import { connect } from "../../../src/api/client.ts";

const SMALL = "version: v1alpha1\nmachine:\n  network:\n    hostname: small-node\n";
export const BIG = stringify({
  version: "v1alpha1",
  machine: {
    network: { hostname: "big-node" },
    kubelet: { extraArgs: Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`flag-${i}`, String(i)])) },
  },
});

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
    const hasty = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 3000 });
    try {
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
      const init = await sb.initPid();
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
      console.log(
        `[figure] 40k-key apply with a 3 s deadline: PID 1 CPU ${cpuS.toFixed(1)} s, node busy ${(busyMs / 1000).toFixed(1)} s, worst Version wait ${(worst / 1000).toFixed(1)} s, stored ${readFileSync(stored, "utf8") === SMALL ? "old" : "NEW"}`,
      );
      expect(readFileSync(stored, "utf8")).toBe(SMALL);
      expect(await pinger.hostname()).toBe("small-node");
      expect(await pinger.getConfiguration()).toBe(SMALL);
    } finally {
      pinger.close();
      hasty.close();
    }
  }, 300_000);
});
