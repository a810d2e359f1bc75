// Starting one run of a service: through wrapperd (which drops capabilities,
// joins the cgroup, sets the oom score and execs the service), with stdout and
// stderr on a pipe whose lines go to the service's log ring (output.ts: lines
// of bounded size, read with backpressure). The pid is registered with the
// reaper before launch() returns.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CgroupTree } from "../mechanisms/cgroups.ts";
import type { ExitStatus, Reaper } from "./reaper.ts";
import { close, pipe } from "../../sys/spawn.ts";
import { readOutput } from "./output.ts";
import type { ServiceSpec } from "./spec.ts";
import type { ContainerLauncher, Run } from "./run.ts";

export type { Run };

export const WRAPPERD = "/sbin/wrapperd";
/** The PATH services see (the rootfs keeps binaries in /bin and /sbin, as Talos). */
export const SERVICE_PATH = "/sbin:/bin:/usr/sbin:/usr/bin";

/** What launching needs of the reaper: spawn with one owner of the exit status. */
export type Spawner = Pick<Reaper, "spawn">;

export interface LaunchContext {
  reaper: Spawner;
  cgroups: CgroupTree;
  /** Run services through /sbin/wrapperd (true on a node); false starts them directly and puts them in their cgroup from init. */
  viaWrapperd: boolean;
  /** Lowering an oom score needs CAP_SYS_RESOURCE; without it negative scores are left out (logged at boot). */
  canLowerOomScore: boolean;
  /** Starts services that have a `container` (absent: such a service fails to start, saying so). */
  containers?: ContainerLauncher;
}

/** The oom score to ask for, or undefined when init could not grant it. */
export function oomScoreFor(spec: ServiceSpec, ctx: Pick<LaunchContext, "canLowerOomScore">): number | undefined {
  return spec.oomScore < 0 && !ctx.canLowerOomScore ? undefined : spec.oomScore;
}

/** The argv that starts `spec`: wrapperd's flags, then the service after `--`. */
export function commandLine(spec: ServiceSpec, ctx: Pick<LaunchContext, "cgroups" | "viaWrapperd" | "canLowerOomScore">): string[] {
  if (!ctx.viaWrapperd) return spec.command;
  const flags = [`--name=${spec.id}`, `--cgroup-path=${ctx.cgroups.path(spec.cgroup)}`];
  const oom = oomScoreFor(spec, ctx);
  if (oom !== undefined) flags.push(`--oom-score=${oom}`);
  if (spec.droppedCaps.length > 0) flags.push(`--dropped-caps=${spec.droppedCaps.join(",")}`);
  if (spec.tty) flags.push(`--ctty=${spec.tty}`);
  return [WRAPPERD, ...flags, "--", ...spec.command];
}

export function serviceEnv(spec: ServiceSpec, nodeEnv: Record<string, string>): string[] {
  const env: Record<string, string> = { PATH: SERVICE_PATH, ...nodeEnv, ...spec.env };
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

export function launch(spec: ServiceSpec, ctx: LaunchContext, nodeEnv: Record<string, string>, onLine: (line: string) => void): Run {
  ctx.cgroups.ensure(spec.cgroup);
  const argv = commandLine(spec, ctx);
  const env = serviceEnv(spec, nodeEnv);
  if (spec.tty) {
    const fd = openSync(spec.tty, "r+");
    try {
      const { pid, exited } = ctx.reaper.spawn({ path: argv[0]!, argv, env, stdin: fd, stdout: fd, stderr: fd, setsid: true });
      if (!ctx.viaWrapperd) placeDirectly(spec, ctx, pid);
      return { pid, exited };
    } finally {
      closeSync(fd);
    }
  }
  const [r, w] = pipe();
  let pid: number;
  let exited: Promise<ExitStatus>;
  try {
    ({ pid, exited } = ctx.reaper.spawn({ path: argv[0]!, argv, env, stdin: "null", stdout: w, stderr: w, setsid: true }));
  } catch (e) {
    close(r);
    throw e;
  } finally {
    close(w); // the child holds the only write end now: EOF comes when it (and its children) are gone
  }
  if (!ctx.viaWrapperd) placeDirectly(spec, ctx, pid);
  // readOutput ends by itself at EOF (every writer, children included, closed the pipe) and never throws.
  void readOutput(r, onLine);
  return { pid, exited };
}

/** Without wrapperd: move the child into its cgroup and set its oom score from here (racy with its first fork; the wrapperd path is not). */
function placeDirectly(spec: ServiceSpec, ctx: LaunchContext, pid: number): void {
  try {
    writeFileSync(join(ctx.cgroups.dir(spec.cgroup), "cgroup.procs"), String(pid));
    const oom = oomScoreFor(spec, ctx);
    if (oom !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(oom));
  } catch {
    // it may already have exited
  }
}
