// The reaper: the single owner of every exit status in PID 1 (README, "Design notes").
// init never uses Bun.spawn/child_process; every child starts through
// spawnWatched(), which registers the pid's watcher synchronously right after
// posix_spawn returns. SIGCHLD handlers run on the JS event loop, so no drain
// can slip in between spawn and registration. A drain takes every ready status
// with waitpid(-1, WNOHANG): watched pids go to their watcher, anything else is
// an orphan the kernel reparented to us, counted and forgotten.
import { SysError } from "../../sys/errno.ts";
import { decodeWaitStatus, signalName, waitpid, WNOHANG, type ExitStatus } from "../../sys/process.ts";
import { spawn, type SpawnOptions } from "../../sys/spawn.ts";

export type { ExitStatus };

type Watcher = (status: ExitStatus) => void;

export interface ReaperStats {
  /** Exits of children nobody watched (orphans reparented to PID 1, or forgotten children). */
  orphans: number;
  /** Exits delivered to their watcher. */
  watched: number;
  /** Drains run (signal-driven plus the safety timer). */
  drains: number;
}

/** A safety net against a coalesced or lost SIGCHLD: a drain is cheap when nothing is ready. */
const SAFETY_DRAIN_MS = 5000;

export class Reaper {
  private watchers = new Map<number, Watcher>();
  private stats: ReaperStats = { orphans: 0, watched: 0, drains: 0 };
  private idleWaiters: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private hasChildren = true;

  constructor(private readonly onError: (e: unknown) => void = () => {}) {}

  /** Register for SIGCHLD before anything is spawned, then drain once (children may predate us). */
  install(): void {
    process.on("SIGCHLD", () => this.drain());
    this.drain();
    // The interval also keeps the event loop alive forever: PID 1 must never run out of work.
    this.timer = setInterval(() => this.drain(), SAFETY_DRAIN_MS);
  }

  /** Starts a child and registers its watcher before returning. */
  spawn(opts: SpawnOptions): { pid: number; exited: Promise<ExitStatus> } {
    const pid = spawn(opts);
    this.hasChildren = true;
    const exited = new Promise<ExitStatus>((resolve) => this.watchers.set(pid, resolve));
    return { pid, exited };
  }

  /** Takes every ready exit status. Never throws: it runs from a signal handler. */
  drain(): void {
    this.stats.drains++;
    for (;;) {
      let r: ReturnType<typeof waitpid>;
      try {
        r = waitpid(-1, WNOHANG);
      } catch (e) {
        const code = e instanceof SysError ? e.code : undefined;
        if (code === "EINTR") continue; // interrupted before anything was taken: ask again
        if (code === "ECHILD") this.noChildren();
        else this.onError(e);
        return;
      }
      if (r === null) {
        this.hasChildren = true; // children exist, none ready
        return;
      }
      this.dispatch(r.pid, r.status);
    }
  }

  private dispatch(pid: number, status: ExitStatus): void {
    const w = this.watchers.get(pid);
    if (!w) {
      this.stats.orphans++;
      return;
    }
    this.watchers.delete(pid);
    this.stats.watched++;
    try {
      w(status);
    } catch (e) {
      this.onError(e);
    }
  }

  private noChildren(): void {
    this.hasChildren = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves true once waitpid reports no children at all, false after `timeoutMs`. */
  waitNoChildren(timeoutMs: number): Promise<boolean> {
    this.drain();
    if (!this.hasChildren) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  get watching(): number {
    return this.watchers.size;
  }

  snapshot(): ReaperStats {
    return { ...this.stats };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export { decodeWaitStatus };

/** "exit code 1", "signal 9 (SIGKILL)". */
export function describeExit(s: ExitStatus): string {
  if (s.code !== null) return `exit code ${s.code}`;
  const name = signalName(s.signal);
  return `signal ${s.signal}${name ? ` (${name})` : ""}`;
}
