// minos: one executable, six applets. The kernel starts it as /sbin/init; hard
// links give it the names dashboard, poweroff, shutdown and wrapperd; on a
// workstation it is minosctl. This table is the architecture (as in BusyBox):
// the invoked name picks the applet, and only that applet's module is loaded.
import { basename } from "node:path";
import { version as packageVersion } from "../package.json";
import { processIo, type AppletMain, type Io } from "./lib/io.ts";

type Loader = () => Promise<{ main: AppletMain }>;

export const APPLETS: Record<string, Loader> = {
  init: () => import("./applets/init/main.ts"),
  dashboard: () => import("./applets/dashboard/main.ts"),
  // One applet, two names: the invoked name picks the default action and the flags.
  poweroff: () => import("./applets/power/main.ts"),
  shutdown: () => import("./applets/power/main.ts"),
  wrapperd: () => import("./applets/wrapperd/main.ts"),
  minosctl: () => import("./applets/minosctl/main.ts"),
};

/** Aliases accepted in the explicit form `minos <applet>`. */
const ALIASES: Record<string, string> = { ctl: "minosctl" };

/** Names under which the binary is the multicall front door rather than an applet. */
const FRONT_DOORS = new Set(["minos", "bun"]);

export const APPLET_NAMES = Object.keys(APPLETS);

function describe(): string {
  return [
    "minos: the init of a Kubernetes node OS, one binary with six applets.",
    "",
    "  init       PID 1: boots the node, reaps, supervises services, serves the machine API",
    "  wrapperd   drops privileges, enters a cgroup, then execs a service",
    "  poweroff   asks init for an orderly power-off (-f: at once)",
    "  shutdown   asks init for an orderly shutdown or reboot, now or scheduled",
    "  dashboard  live full-screen view of a node",
    "  minosctl   workstation client of the machine API (also `minos ctl`)",
    "",
    "Run as a hard link named after an applet, or as `minos <applet> [args]`.",
    "",
  ].join("\n");
}

/**
 * Resolves (invoked name, args) to an applet and runs it. `invokedAs` is
 * process.argv0 — in a Bun-compiled binary process.argv[0] is always "bun".
 */
export async function dispatch(invokedAs: string, args: string[], io: Io): Promise<number> {
  let name = basename(invokedAs);
  if (FRONT_DOORS.has(name)) {
    const first = args[0];
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      io.stdout(describe());
      return 0;
    }
    if (first === "--version") {
      io.stdout(`minos version v${packageVersion}\n`);
      return 0;
    }
    name = ALIASES[first] ?? first;
    args = args.slice(1);
  }
  const load = APPLETS[name];
  if (!load) {
    io.stderr(`minos: unknown applet "${name}"; valid applets: ${APPLET_NAMES.join(", ")}\n`);
    return 1;
  }
  // Every applet answers --version the same way, before its own flags are parsed. Not as PID 1:
  // an init that exits panics the kernel, and its arguments come from the kernel command line.
  if (args[0] === "--version" && process.pid !== 1) {
    io.stdout(`${name} version v${packageVersion}\n`);
    return 0;
  }
  const { main } = await load();
  return main(args, io, name);
}

if (import.meta.main) {
  const code = await dispatch(process.argv0, process.argv.slice(2), processIo());
  process.exit(code);
}
