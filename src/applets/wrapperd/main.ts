// wrapperd: init starts every service as `wrapperd [flags] -- /path/to/service
// args…`; wrapperd prepares its own process and execve's the service, which thus
// keeps wrapperd's pid and never inherits PID 1's full privileges (Talos'
// wrapperd is the model for behaviour and flag names).
//
// Order, and why:
//   ctty          first: setsid + TIOCSCTTY, so even step errors land on the tty
//   oom score     lowering it needs CAP_SYS_RESOURCE: do it with every cap present
//   cgroup        the cgroup accounts for everything from here on; writing a
//                 root-owned cgroup.procs needs root, which the uid step ends
//   rlimits       raising a hard limit needs CAP_SYS_RESOURCE
//   capabilities  bounding drop, ambient clear, capset (caps.ts explains the sets)
//   groups/gid/uid  needs CAP_SETGID/SETUID, kept "in transit" until just after
//   capabilities (2nd half)  drop the transit caps; raise ambient for a non-root --keep-caps
//   cwd           as the service's own user
//   no_new_privs  only affects execve, so last
//   execve        signals reset; nothing of wrapperd survives but pid and fds 0-2
// Any failure aborts before execve: a service never runs with more privilege
// than asked because a step failed.
import type { Io } from "../../lib/io.ts";
import { errnoText } from "../../sys/errno.ts";
import { applyCaps, finishCaps, planCaps } from "./caps.ts";
import { execService, serviceEnv } from "./exec.ts";
import { parsePlan, UsageError, type Plan } from "./flags.ts";
import { changesIdentity, enterCwd, joinCgroup, noNewPrivs, setIdentity, setOomScore, setRlimits, takeTty } from "./steps.ts";
import { USAGE } from "./usage.ts";

export { USAGE };

export const EXIT = { STEP_FAILED: 1, USAGE: 2, CANNOT_EXECUTE: 126, NOT_FOUND: 127 } as const;

export async function main(argv: string[], io: Io): Promise<number> {
  let plan: Plan | null;
  try {
    plan = parsePlan(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`wrapperd: ${e.message} (see wrapperd --help)\n`);
    return EXIT.USAGE;
  }
  if (plan === null) {
    io.stdout(USAGE);
    return 0;
  }
  const who = plan.name ? `wrapperd[${plan.name}]` : "wrapperd";
  let step = "";
  try {
    prepare(plan, (s) => (step = s));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`${who}: ${step}: ${msg}\n`);
    return EXIT.STEP_FAILED;
  }
  const env = serviceEnv(io.env, plan.clearEnv, plan.env);
  const failed = execService(plan.command, env);
  io.stderr(`${who}: exec ${plan.command[0]}: ${failed.error.code} (${errnoText(failed.error.errno)})\n`);
  return failed.code;
}

/** Runs every step in order; `at` names the step in progress for error messages. */
function prepare(plan: Plan, at: (step: string) => void): void {
  if (plan.ctty !== null) {
    at("ctty");
    takeTty(plan.ctty);
  }
  if (plan.oomScore !== null) {
    at("oom score");
    setOomScore(plan.oomScore);
  }
  if (plan.cgroupPath !== null) {
    at("cgroup");
    joinCgroup(plan.cgroupPath);
  }
  at("rlimits");
  setRlimits(plan.rlimits);
  at("capabilities");
  const nonRoot = plan.uid !== null && plan.uid !== 0;
  const caps = planCaps(plan.caps, changesIdentity(plan), nonRoot);
  const before = applyCaps(caps);
  at("identity");
  setIdentity(plan);
  at("capabilities");
  finishCaps(caps, before);
  if (plan.cwd !== null) {
    at("cwd");
    enterCwd(plan.cwd);
  }
  if (plan.noNewPrivs) {
    at("no_new_privs");
    noNewPrivs();
  }
}
