// The entrypoint shared by poweroff and shutdown: parse, then execute with the
// real world wired in. Kept lean because the kernel starts poweroff on an
// overheating or power-button event: the gRPC client and the libc bindings are
// imported only on the path that uses them.
import { readlinkSync } from "node:fs";
import type { Io } from "../../lib/io.ts";
import type { Deps } from "./execute.ts";
import type { RebootCommand } from "../../node/power.ts";
import { API_SOCKET, SOCKET_ENV } from "../../node/paths.ts";
import { execute } from "./execute.ts";
import { KMSG, kmsgLine, kmsgWriter } from "./kmsg.ts";
import { isHelp, parse, usageLine, UsageError, type PowerAppletName } from "./request.ts";
import { HELP } from "./usage.ts";

const TIMEOUT_MS = 10_000;
/**
 * Test interlock: when "1", -f refuses reboot(2) unless this process is in a
 * non-initial PID namespace (where the kernel only signals that namespace's init).
 * e2e tests set it so a mistake in how they enter the sandbox cannot power off the host.
 */
export const PIDNS_ONLY_ENV = "MINOS_REBOOT_ONLY_IN_PIDNS";
/** /proc/self/ns/pid of the initial PID namespace (PROC_PID_INIT_INO, fixed by the kernel). */
const INITIAL_PID_NS = "pid:[4026531836]";

export function checkPidNs(): void {
  let ns: string;
  try {
    ns = readlinkSync("/proc/self/ns/pid");
  } catch (e) {
    throw new Error(`${PIDNS_ONLY_ENV}=1 and the PID namespace is unknown (${(e as Error).message}): refusing reboot(2)`);
  }
  if (ns === INITIAL_PID_NS) throw new Error(`${PIDNS_ONLY_ENV}=1 and this is the initial PID namespace: refusing reboot(2)`);
}

/**
 * reboot(2) for real — but only from the compiled binary. Code run by `bun test`
 * or `bun src/main.ts` lives on the real filesystem, never under /$bunfs/, so a
 * test that reaches main() with -f by mistake gets an error instead of powering
 * off the host. (e2e tests run the binary, and only inside a PID namespace.)
 */
async function realReboot(cmd: RebootCommand, pidNsOnly: boolean): Promise<void> {
  if (pidNsOnly) checkPidNs();
  if (!import.meta.path.startsWith("/$bunfs/")) {
    throw new Error("refusing reboot(2) outside the compiled minos binary (run from source or under a test)");
  }
  const sys = await import("../../sys/reboot.ts");
  sys.reboot(cmd);
}

async function realSync(): Promise<void> {
  const sys = await import("../../sys/reboot.ts");
  sys.sync();
}

async function realConnect(socketPath: string) {
  const { connectMachine } = await import("./machine.ts");
  return connectMachine(socketPath, TIMEOUT_MS);
}

export function realDeps(io: Io): Deps {
  const env = io.env[SOCKET_ENV];
  return {
    io,
    socketPath: env !== undefined && env !== "" ? env : API_SOCKET,
    connect: realConnect,
    reboot: (cmd) => realReboot(cmd, io.env[PIDNS_ONLY_ENV] === "1"),
    sync: realSync,
    kmsg: kmsgWriter(),
    pid: process.pid,
    timeoutMs: TIMEOUT_MS,
  };
}

const POWER_APPLETS: readonly PowerAppletName[] = ["poweroff", "shutdown", "halt", "reboot"];

/** The applet table's entrypoint for poweroff and shutdown (halt and reboot answer too, when linked). */
export function main(argv: string[], io: Io, invokedAs: string): Promise<number> {
  const name = POWER_APPLETS.find((n) => n === invokedAs) ?? "poweroff";
  return runPowerApplet(name, argv, io);
}

/** parse → execute; bad input is one line on stderr and exit 1 with nothing sent. */
export async function runPowerApplet(applet: PowerAppletName, argv: string[], io: Io, given?: Deps, now = new Date()): Promise<number> {
  const parsed = parse(applet, argv, now);
  if (isHelp(parsed)) {
    io.stdout(HELP[parsed.applet]);
    return 0;
  }
  // The real world is wired in only past --help: `poweroff --help` is a cold-start benchmark row.
  const deps = given ?? realDeps(io);
  if (parsed instanceof UsageError) {
    io.stderr(`${applet}: ${parsed.message} (${usageLine(applet)})\n`);
    if (!io.isTTY) deps.kmsg(kmsgLine(KMSG.err, applet, deps.pid, `bad command line [${argv.join(" ")}]: ${parsed.message}; nothing sent`));
    return 1;
  }
  return execute(parsed, deps);
}
