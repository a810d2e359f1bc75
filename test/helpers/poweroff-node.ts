// Helpers for the sandbox tests of poweroff/shutdown: boot a node, run an
// applet INSIDE it the way the kernel's usermode helper would (all of the
// node's namespaces and its root, `env -i`, no terminal), read its API.
//
// SAFETY: inNode() enters the node's PID namespace (nsenter forks into it), so
// reboot(2) from `poweroff -f` only ends that namespace. It refuses a target
// whose PID namespace is ours or the initial one, and it always sets the
// binary's own interlock (MINOS_REBOOT_ONLY_IN_PIDNS=1) as a second lock.
import { afterEach, expect, test } from "bun:test";
import { existsSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { bootSandbox, type Sandbox, type SandboxOptions } from "../../scripts/sandbox.ts";
import { connect, type MachineClient } from "../../src/api/client.ts";

export const ROOT = join(import.meta.dir, "../..");
export const INITIAL_PID_NS = "pid:[4026531836]";

/** Root, util-linux's nsenter and a built rootfs: what the sandbox tests need. */
export const canBoot = process.getuid?.() === 0 && existsSync(join(ROOT, "dist/rootfs/sbin/init")) && Bun.which("nsenter") !== null;

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

export interface TestNode {
  sb: Sandbox;
  initPid: number;
  client(): MachineClient;
  /** Runs argv (a path inside the node, e.g. /sbin/poweroff) in the node like a usermode helper. */
  run(argv: string[], env?: Record<string, string>): Promise<Ran>;
  /** Console lines so far, joined. */
  console(): string;
  cleanup(): Promise<void>;
}

/** Boots a node and waits until its services are up. */
export async function bootNode(opts: SandboxOptions = {}): Promise<TestNode> {
  const sb = await bootSandbox(opts);
  const clients: MachineClient[] = [];
  try {
    await sb.waitForLine(/all services healthy/, 30_000);
    const initPid = await sb.initPid();
    const ours = readlinkSync("/proc/self/ns/pid");
    const theirs = readlinkSync(`/proc/${initPid}/ns/pid`);
    if (theirs === ours || theirs === INITIAL_PID_NS) throw new Error(`refusing: node init ${initPid} is not in a PID namespace of its own (${theirs})`);
    return {
      sb,
      initPid,
      client() {
        const c = connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 10_000 });
        clients.push(c);
        return c;
      },
      async run(argv, env = {}) {
        // Checked again per run: the sandbox may have been replaced under the same pid.
        if (readlinkSync(`/proc/${initPid}/ns/pid`) !== theirs) throw new Error("node init changed PID namespace");
        const vars = Object.entries({ ...env, MINOS_REBOOT_ONLY_IN_PIDNS: "1" }).map(([k, v]) => `${k}=${v}`);
        const p = Bun.spawn(
          ["env", "-i", ...vars, "nsenter", `--target=${initPid}`, "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd", ...argv],
          { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
        );
        const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
        const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
        await p.exited;
        clearTimeout(timer);
        return { code: p.exitCode, out, err };
      },
      console: () => sb.lines.join("\n"),
      async cleanup() {
        for (const c of clients) c.close();
        await sb.cleanup();
      },
    };
  } catch (e) {
    await sb.cleanup();
    throw e;
  }
}

/**
 * Gives the node a /dev/kmsg (the kernel's log: in a sandbox, the host's). The
 * sandbox's init leaves it out on purpose; the Dmesg test needs it. Made in the
 * node's own /dev (a tmpfs of its mount namespace), so the host is untouched.
 */
export function addKmsg(node: TestNode): void {
  const p = Bun.spawnSync(["nsenter", `--target=${node.initPid}`, "--mount", "mknod", "-m", "0600", join(node.sb.rootfs, "dev/kmsg"), "c", "1", "11"], {
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`mknod /dev/kmsg in the node: ${p.stderr.toString()}`);
}

/** Collects from a stream until `done` says so or time runs out; cancels it either way. */
export async function collect<T>(stream: AsyncIterable<T> & { cancel(): void }, done: (seen: T[]) => boolean, timeoutMs: number): Promise<T[]> {
  const seen: T[] = [];
  const timer = setTimeout(() => stream.cancel(), timeoutMs);
  try {
    for await (const x of stream) {
      seen.push(x);
      if (done(seen)) break;
    }
  } catch {
    // cancelled by the timer: return what arrived
  } finally {
    clearTimeout(timer);
    stream.cancel();
  }
  return seen;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * The setup both sandbox test files share: a prerequisites test (missing root,
 * build or nsenter fails, never skips) and a boot() whose nodes are cleaned
 * up after each test.
 */
export function sandboxSuite(): { boot: (opts?: SandboxOptions) => Promise<TestNode> } {
  test("prerequisites: root, dist/rootfs built, nsenter present", () => {
    expect(canBoot).toBe(true);
  });
  const nodes: TestNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.cleanup();
  });
  return {
    boot: async (opts = {}) => {
      const n = await bootNode(opts);
      nodes.push(n);
      return n;
    },
  };
}
