// Boot phase "time": SNTP against machine.time.servers (Talos's default
// time.cloudflare.com), in the background: nothing in the boot needs the time
// yet, so the boot does not wait (bootTimeout is when "not synced" is logged).
// On the node's own kernel the clock is stepped, then slewed; in the sandbox
// CLOCK_REALTIME is the host's, so offsets are only logged (never set there).
import { logOnlyClock, startTimeSync, systemAdjuster, systemClock, timeSyncOptions } from "../../time/index.ts";
import type { NodeContext } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";
import { emitMachineStatus } from "../status.ts";

export function timeTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "time sync",
      run: () => {
        const cfg = ctx.config.get().config.machine.time;
        if (cfg?.disabled) return skipped("machine.time.disabled");
        const opts = timeSyncOptions(cfg);
        const { clock, adjuster } = ctx.sandbox ? logOnlyClock(systemClock, (l) => ctx.log.info(l)) : { clock: systemClock, adjuster: systemAdjuster() };
        const sync = startTimeSync(opts, { clock, adjuster, log: (l) => ctx.log.info(l) });
        ctx.time.set({ sync, servers: [...opts.servers], clock });
        sync.on("synced", () => {
          const s = sync.status();
          ctx.log.info(
            `time synced: ${s.server} (stratum ${s.stratum}), offset ${s.offsetMs?.toFixed(3)} ms, ${Math.round(s.timeToSyncMs ?? 0)} ms after start`,
          );
          ctx.events.emit({ kind: "config", message: `time synced with ${s.server}` });
          emitMachineStatus(ctx);
        });
        sync.on("bootTimeout", () => ctx.log.warn(`time: not synced within machine.time.bootTimeout (${cfg?.bootTimeout}); the boot goes on`));
        ctx.log.info(`  servers ${opts.servers.join(", ")}${ctx.sandbox ? "; sandbox: offsets are logged, the host's clock is never set" : ""}`);
      },
    },
  ];
}
