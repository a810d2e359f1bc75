// Adapts the machine API client (src/api/client.ts) to PowerClient. Imported
// only when a request is actually sent, so `poweroff --help`, bad input and -f
// never load the API schema.
import { statSync } from "node:fs";
import type { PowerAction, ScheduledShutdown } from "../../node/power.ts";
import type { PowerClient } from "./client.ts";
import { UnreachableError } from "./client.ts";

/** A missing socket is the common "init is gone" case: say so at once, before loading the client. */
function checkSocket(socketPath: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new UnreachableError(code === "ENOENT" ? "no such socket" : `${code} on stat`);
  }
  if (!st.isSocket()) throw new UnreachableError("not a socket");
}

export async function connectMachine(socketPath: string, timeoutMs?: number): Promise<PowerClient> {
  checkSocket(socketPath);
  const { connect, ApiError, Code } = await import("../../api/client.ts");
  const c = connect({ endpoint: `unix:${socketPath}`, timeoutMs });
  const prefix = `unix:${socketPath}: `;

  // Transport failures and deadlines mean "init is not answering" (-f is the way out);
  // any other status is init's answer, e.g. FAILED_PRECONDITION while a sequence runs.
  const call = async <T>(p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (e) {
      if (!(e instanceof ApiError)) throw new UnreachableError((e as Error).message);
      const details = e.details.startsWith(prefix) ? e.details.slice(prefix.length) : e.details;
      if (e.code === Code.UNAVAILABLE || e.code === Code.DEADLINE_EXCEEDED) throw new UnreachableError(details);
      throw new Error(`${e.codeName}: ${details}`);
    }
  };

  return {
    power: (action: PowerAction) =>
      call(async () => {
        if (action === "poweroff") await c.shutdown();
        else if (action === "reboot") await c.reboot();
        // Talos's API has no halt call: a shutdown held for "now" is one (init starts it at once).
        else await c.scheduleShutdown({ at: new Date(), action: "halt", message: "halt requested now" });
      }),
    schedule: (s: ScheduledShutdown) => call(() => c.scheduleShutdown({ at: s.at, action: s.action, message: s.message })),
    cancel: () => call(() => c.cancelShutdown()),
    close: () => c.close(),
  };
}
