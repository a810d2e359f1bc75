// Talos's machine.time section -> TimeSyncOptions.
//   machine:
//     time:
//       disabled: false
//       servers: [time.cloudflare.com]   # the default when absent or empty
//       bootTimeout: 2m30s               # a Go duration; absent or 0: wait forever
import { DEFAULT_SERVERS } from "./servers.ts";
import type { TimeSyncOptions } from "./sync.ts";

export interface MachineTimeConfig {
  disabled?: boolean;
  servers?: readonly string[];
  bootTimeout?: string;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A Go time.Duration string ("1h2m3.5s", "300ms", "0") -> milliseconds; throws on anything else. */
export function parseGoDuration(text: string): number {
  const t = text.trim();
  if (t === "0" || t === "+0" || t === "-0") return 0;
  const m = /^([-+]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(t);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (expected e.g. "90s", "2m30s")`);
  let ms = 0;
  for (const [, num, unit] of m[2]!.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(num) * UNIT_MS[unit!]!;
  return m[1] === "-" ? -ms : ms;
}

export function timeSyncOptions(time: MachineTimeConfig | undefined): TimeSyncOptions {
  const servers = time?.servers?.length ? [...time.servers] : [...DEFAULT_SERVERS];
  const opts: TimeSyncOptions = { servers, disabled: time?.disabled === true };
  if (time?.bootTimeout !== undefined) {
    const ms = parseGoDuration(time.bootTimeout);
    if (ms < 0) throw new Error(`machine.time.bootTimeout: negative duration ${time.bootTimeout}`);
    opts.bootTimeoutMs = ms;
  }
  return opts;
}
