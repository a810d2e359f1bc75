// The reaper: the single owner of every exit status in PID 1 (README, "Design notes").
// init never uses Bun.spawn/child_process; every child starts through
// spawnWatched(), which registers the pid's watcher synchronously right after
// posix_spawn returns. SIGCHLD handlers run on the JS event loop, so no drain
// can slip in between spawn and registration. A drain takes every ready status
// with waitpid(-1, WNOHANG): watched pids go to their watcher, anything else is
// an orphan the kernel reparented to us, counted and forgotten.
//
// Storms: every SIGCHLD wakes the event loop, and in an orphan storm that is
// one wake (epoll, the runtime's signal eventfd, a JS call) per exit — most of
// what reaping cost PID 1 (bench row 5). When signal-driven drains keep
// finding exits, the reaper stops listening (SIGCHLD back to SIG_DFL: exits
// wait as zombies, nothing is lost and nothing wakes us) and drains on a short
// timer instead, one wake per STORM.pollMs for however many exits; the first
// poll that finds nothing listens again and drains once more, so an exit
// between that poll and the listener is not missed. A supervised exit during a
// storm is seen at most STORM.pollMs late.
import { SysError } from "../../sys/errno.ts";
import { decodeWaitStatus, lastWaitStatus, signalName, waitpidRaw, WNOHANG, type ExitStatus } from "../../sys/process.ts";
import { spawn, type SpawnOptions } from "../../sys/spawn.ts";

export type { ExitStatus };

type Watcher = (status: ExitStatus) => void;

export interface ReaperStats {
  /** Exits of children nobody watched (orphans reparented to PID 1, or forgotten children). */
  orphans: number;
  /** Exits delivered to their watcher. */
  watched: number;
  /** Drains run (signal-driven, storm polls and the safety timer). */
  drains: number;
  /** Times the reaper switched from SIGCHLD to polling (an exit storm). */
  storms: number;
}

/** A safety net against a coalesced or lost SIGCHLD: a drain is cheap when nothing is ready. */
const SAFETY_DRAIN_MS = 5000;
export interface StormOptions {
  /** A storm: this many signal-driven drains that found exits within windowMs. */
  drains: number;
  windowMs: number;
  /** How often a storm is drained (the most a supervised exit waits then). */
  pollMs: number;
}

export const STORM: StormOptions = { drains: 16, windowMs: 20, pollMs: 4 };

export class Reaper {
  private watchers = new Map<number, Watcher>();
  private stats: ReaperStats = { orphans: 0, watched: 0, drains: 0, storms: 0 };
  private idleWaiters: (() => void)[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private hasChildren = true;
  private windowStart = 0;
  private windowDrains = 0;
  private polling: ReturnType<typeof setTimeout> | undefined;
  private readonly onSignal = () => this.signalled();

  constructor(
    private readonly onError: (e: unknown) => void = () => {},
    private readonly storm: StormOptions = STORM,
  ) {}

  /** Register for SIGCHLD before anything is spawned, then drain once (children may predate us). */
  install(): void {
    process.on("SIGCHLD", this.onSignal);
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

  /** Takes every ready exit status; returns how many. Never throws: it runs from a signal handler. */
  drain(): number {
    this.stats.drains++;
    let taken = 0;
    for (;;) {
      let pid: number;
      try {
        pid = waitpidRaw(-1, WNOHANG);
      } catch (e) {
        const code = e instanceof SysError ? e.code : undefined;
        if (code === "EINTR") continue; // interrupted before anything was taken: ask again
        if (code === "ECHILD") this.noChildren();
        else this.onError(e);
        return taken;
      }
      if (pid === 0) {
        this.hasChildren = true; // children exist, none ready
        return taken;
      }
      taken++;
      this.dispatch(pid);
    }
  }

  /** A SIGCHLD: drain, and switch to polling when drains that find exits come this fast. */
  private signalled(): void {
    if (this.drain() === 0 || this.polling) return;
    const now = performance.now();
    if (now - this.windowStart > this.storm.windowMs) {
      this.windowStart = now;
      this.windowDrains = 0;
    }
    if (++this.windowDrains < this.storm.drains) return;
    this.stats.storms++;
    process.off("SIGCHLD", this.onSignal);
    this.polling = setTimeout(() => this.poll(), this.storm.pollMs);
  }

  private poll(): void {
    if (this.drain() > 0) {
      this.polling = setTimeout(() => this.poll(), this.storm.pollMs);
      return;
    }
    this.polling = undefined;
    this.windowDrains = 0;
    process.on("SIGCHLD", this.onSignal);
    this.drain(); // an exit between the last poll and the listener raised no signal we heard
  }

  // Orphans (nearly every exit in a storm) cost a map lookup and a count: their status is never decoded.
  private dispatch(pid: number): void {
    const w = this.watchers.get(pid);
    if (!w) {
      this.stats.orphans++;
      return;
    }
    this.watchers.delete(pid);
    this.stats.watched++;
    try {
      w(lastWaitStatus());
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
    if (this.polling) clearTimeout(this.polling);
    process.off("SIGCHLD", this.onSignal);
  }
}

export { decodeWaitStatus };

/** "exit code 1", "signal 9 (SIGKILL)". */
export function describeExit(s: ExitStatus): string {
  if (s.code !== null) return `exit code ${s.code}`;
  const name = signalName(s.signal);
  return `signal ${s.signal}${name ? ` (${name})` : ""}`;
}
