// The node's cgroup v2 tree (Talos's layout): /init for PID 1 itself, /system
// and /system/<service> for system services (/system/runtime for containerd),
// /system/extra/<id> for the config's extra services (minos), /podruntime for
// the Kubernetes side. On a kernel boot the tree hangs off the
// hierarchy root; in the sandbox it hangs off the cgroup init started in (read
// from /proc/self/cgroup), which the launcher created fresh for this node, so
// cgroup.kill can never reach a process of the host or of another sandbox.
import { existsSync, mkdirSync, readFileSync, writeFile, writeFileSync } from "node:fs";
import { join } from "node:path";

export const CGROUP_MOUNT = "/sys/fs/cgroup";
export const INIT_CGROUP = "init";
export const TREE = ["init", "system", "system/runtime", "system/extra", "podruntime"] as const;
/** The inner nodes whose children get every controller (cgroup v2 delegates one level at a time). */
const DELEGATING = ["", "system", "system/extra", "podruntime"] as const;

/** The cgroup v2 path of the calling process ("/" on a kernel boot), from /proc/self/cgroup's "0::" line. */
export function ownCgroup(procSelfCgroup = readFileSync("/proc/self/cgroup", "utf8")): string {
  const line = procSelfCgroup.split("\n").find((l) => l.startsWith("0::"));
  if (!line) throw new Error("/proc/self/cgroup has no cgroup v2 (0::) entry");
  return line.slice(3) || "/";
}

/**
 * Moves a process (all its threads) into a cgroup, without blocking the event
 * loop. The boot's first cgroup migration waits in the kernel for an RCU
 * grace period (the cgroup threadgroup lock leaving its fast mode): 0.4-17 ms
 * measured in the sandbox on a 2-vCPU VM, a stall the synchronous write put
 * on every API call of that moment. node:fs's callback form writes on Bun's
 * thread pool (the loop's longest gap 2 ms against 8 with writeFileSync).
 */
function moveInto(procsFile: string, pid: number): Promise<void> {
  return new Promise((resolve, reject) => writeFile(procsFile, String(pid), (e) => (e ? reject(e) : resolve())));
}

export class CgroupTree {
  constructor(
    /** Where init is, in the hierarchy, before it moves itself to /init: the node's root cgroup. */
    readonly base: string,
    readonly mountpoint = CGROUP_MOUNT,
  ) {}

  /** A node cgroup's path in the hierarchy (what wrapperd's --cgroup-path takes). */
  path(rel: string): string {
    return join(this.base, rel);
  }

  /** The node cgroup's directory in the mounted cgroupfs. */
  dir(rel: string): string {
    return join(this.mountpoint, this.base, rel);
  }

  ensure(rel: string): string {
    const d = this.dir(rel);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /**
   * Creates the tree, moves PID 1 into /init and enables every available
   * controller down to /system, /system/extra and /podruntime. Returns what could not be done
   * (the sandbox's launcher may share the base cgroup, which forbids enabling
   * controllers there: cgroup v2's no-internal-processes rule).
   */
  async build(): Promise<{ enabled: string[]; problems: string[] }> {
    for (const rel of TREE) this.ensure(rel);
    await moveInto(join(this.dir(INIT_CGROUP), "cgroup.procs"), process.pid);
    const problems: string[] = [];
    const controllers = readFileSync(join(this.dir(""), "cgroup.controllers"), "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    const enabled: string[] = [];
    for (const rel of DELEGATING) {
      const avail = readFileSync(join(this.dir(rel), "cgroup.controllers"), "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean);
      for (const c of avail) {
        try {
          writeFileSync(join(this.dir(rel), "cgroup.subtree_control"), `+${c}`);
          if (rel === "") enabled.push(c);
        } catch (e) {
          problems.push(`+${c} in ${this.path(rel)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      }
    }
    if (controllers.length === 0) problems.push(`no controllers available in ${this.path("")}`);
    return { enabled, problems };
  }

  populated(rel: string): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(join(this.dir(rel), "cgroup.events"), "utf8"));
    } catch {
      return false;
    }
  }

  /** SIGKILL to every process in the cgroup and below (cgroup.kill, Linux 5.14+). */
  kill(rel: string): void {
    if (!existsSync(this.dir(rel))) return;
    writeFileSync(join(this.dir(rel), "cgroup.kill"), "1");
  }

  /** Polls cgroup.events until the cgroup is empty; false after `timeoutMs`. */
  async waitEmpty(rel: string, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.populated(rel)) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }
}
