// The last step: build the service's environment, find its binary and execve it
// in place (it keeps wrapperd's pid). Returns only on failure, as an exit code.
import { SysError } from "../../sys/errno.ts";
import { execve } from "../../sys/process.ts";
import { resetIgnoredSignals, unblockAllSignals } from "../../sys/signal.ts";

/** PATH for a name without a slash when the service's environment has none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Path-resolution errors mean "not found" (127); the rest "cannot execute" (126). */
const NOT_FOUND = new Set(["ENOENT", "ENOTDIR", "ENAMETOOLONG", "ELOOP"]);

export function serviceEnv(base: Readonly<Record<string, string | undefined>>, clear: boolean, set: readonly [string, string][]): string[] {
  const env = new Map<string, string>();
  if (!clear) for (const [k, v] of Object.entries(base)) if (v !== undefined) env.set(k, v);
  for (const [k, v] of set) env.set(k, v);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** Candidate paths for argv[0], execvp-style: as given when it has a slash. */
export function candidates(file: string, env: readonly string[]): string[] {
  if (file.includes("/")) return [file];
  const path = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
  return path.split(":").map((dir) => `${dir === "" ? "." : dir}/${file}`);
}

export interface ExecFailure {
  code: 126 | 127;
  error: SysError;
}

/**
 * execve's each candidate in turn; returns only when all failed. Like execvp, a
 * candidate that exists but may not be run (EACCES) wins over later "not found"s.
 */
export function execService(argv: readonly string[], env: readonly string[]): ExecFailure {
  // Ignored signals and the blocked mask survive execve; the runtime ignores SIGPIPE.
  resetIgnoredSignals();
  unblockAllSignals();
  let denied: SysError | undefined;
  let last: SysError | undefined;
  for (const path of candidates(argv[0]!, env)) {
    try {
      execve(path, argv, env);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      last = e;
      if (!NOT_FOUND.has(e.code)) {
        if (e.code !== "EACCES") return { code: 126, error: e };
        denied ??= e;
      }
    }
  }
  const error = denied ?? last!;
  return { code: NOT_FOUND.has(error.code) ? 127 : 126, error };
}
