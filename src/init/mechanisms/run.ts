// Running a short-lived helper (modprobe, mkfs.xfs, xfs_repair) through init's
// reaper and collecting what it printed: the disk layer's Runner, and the
// early driver load's modprobe. Output is read through the event loop
// (Bun.file(fd).stream()), never a blocking read on PID 1's thread.
import { kill, SIG } from "../../sys/process.ts";
import { close, pipe } from "../../sys/spawn.ts";
import { waitOrCut } from "../../lib/timers.ts";
import type { Reaper } from "../supervisor/reaper.ts";

export interface RunResult {
  code: number;
  output: string;
}

/** Output kept per run: xfs_repair on a badly damaged filesystem can print a lot. */
const MAX_OUTPUT = 256 * 1024;

export const HELPER_ENV = ["PATH=/sbin:/usr/sbin:/bin:/usr/bin"];

/**
 * Runs argv to its end (or kills its session after `timeoutMs`, or when
 * `signal` aborts) and resolves with its exit code (128+signal when killed)
 * and its stdout+stderr.
 */
export async function runCaptured(reaper: Reaper, argv: readonly string[], opts: { timeoutMs: number; signal?: AbortSignal }): Promise<RunResult> {
  const [r, w] = pipe();
  let child: ReturnType<Reaper["spawn"]>;
  try {
    child = reaper.spawn({ path: argv[0]!, argv, env: HELPER_ENV, stdin: "null", stdout: w, stderr: w, setsid: true });
  } catch (e) {
    close(r);
    throw e;
  } finally {
    close(w);
  }
  const output = readAll(r);
  const st = await waitOrCut(child.exited, opts.timeoutMs, opts.signal ?? new AbortController().signal);
  if (st === "timeout" || st === "aborted") {
    try {
      kill(-child.pid, SIG.SIGKILL); // a session leader: its own children too; not yet reaped, so the pid is still its
    } catch {}
    const text = await output;
    return { code: 137, output: `${text}\n(${argv[0]} ${st === "timeout" ? `killed after ${opts.timeoutMs} ms` : "killed: the boot was taken over"})` };
  }
  const text = await output;
  return { code: st.code ?? 128 + (st.signal ?? 0), output: text };
}

async function readAll(fd: number): Promise<string> {
  const dec = new TextDecoder();
  let out = "";
  try {
    for await (const chunk of Bun.file(fd).stream()) if (out.length < MAX_OUTPUT) out += dec.decode(chunk, { stream: true });
  } catch {
    // a read error ends the output, never init
  } finally {
    try {
      close(fd); // Bun's stream leaves the fd open
    } catch {}
  }
  return out;
}

/** The disk layer's Runner over init's reaper: mkfs.xfs on a large disk under TCG takes a while. */
export function reaperRunner(reaper: Reaper, timeoutMs = 10 * 60_000): (argv: string[]) => Promise<RunResult> {
  return (argv) => runCaptured(reaper, argv, { timeoutMs });
}
