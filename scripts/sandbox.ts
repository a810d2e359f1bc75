// The host-side sandbox launcher: boots a minos rootfs as PID 1 of fresh
// namespaces, exactly
//   env -i container=minos PATH=/sbin:/bin unshare --pid --fork --mount --uts --ipc --net chroot <rootfs> /sbin/init
// inside a cgroup created for this sandbox alone (so the node's cgroup.kill can
// only reach its own processes), in a new session (so a terminal's Ctrl-C goes
// to the launcher, which turns it into an orderly power-off). Used by the tests,
// by `npm start`, and by other helpers' API/dashboard/poweroff tests.
//
//   const sb = await bootSandbox({ config: yaml });      // a private copy of dist/rootfs
//   await sb.waitForLine(/all services healthy/, 30_000);
//   const exit = await sb.stop();                          // SIGTERM → power off
//   // exit.initSignal === "SIGINT" (reboot(2) POWER_OFF in a PID namespace)
//   await sb.cleanup();                                    // kills what is left, removes cgroup and copy
//
// The API socket is at sb.socketPath (<rootfs>/system/run/machined/machine.sock).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { ownCgroup } from "../src/init/mechanisms/cgroups.ts";
import { signalName } from "../src/sys/process.ts";
import { dirname, join, resolve } from "node:path";

export const DEFAULT_ROOTFS = resolve(import.meta.dir, "../dist/rootfs");
export const API_SOCKET_IN_ROOTFS = "system/run/machined/machine.sock";
export const STORED_CONFIG_IN_ROOTFS = "system/state/config.yaml";

export interface SandboxFile {
  /** Path inside the rootfs, e.g. "/test/busybox". */
  path: string;
  /** A host file to copy... */
  from?: string;
  /** ...or the content to write. */
  content?: string;
  mode?: number;
}

export interface SandboxOptions {
  /** The rootfs to boot (default dist/rootfs). */
  rootfs?: string;
  /**
   * Boot a private copy (default true): hard links of the rootfs (cp -al) with
   * real copies of /etc and /system, so parallel sandboxes share no socket or
   * state, and the copy can hold test files; the minos binary gets one real
   * copy of its own (see ownMinosCopy). false boots `rootfs` itself (npm start).
   */
  privateCopy?: boolean;
  /** Extra environment for init, e.g. MINOS_CMDLINE (the sandbox's kernel cmdline) or MINOS_FAULT. */
  env?: Record<string, string>;
  /** Machine config YAML, stored as /system/state/config.yaml before the boot. */
  config?: string;
  /** Extra files for the private copy (never written into a shared rootfs). */
  files?: SandboxFile[];
  /** Mirror the node's console: true prints to stdout, or a function per line. */
  echo?: boolean | ((line: string) => void);
  /**
   * Make the node able to run containers (DESIGN fact 9): the rootfs
   * bind-mounted on itself before the chroot (runc pivots into the container's
   * rootfs and needs `/` to be a mount point). Every sandbox has a cgroup
   * namespace rooted at its cgroup, so runc sees the node's tree, not the host's.
   */
  containers?: boolean;
  /**
   * Where the private copy is made (default the OS's temp dir). It must be on
   * the rootfs's filesystem (the copy hard-links it). The bench gives a tmpfs
   * holding a copy of the rootfs, as a node's initramfs is (bench/ram.ts).
   */
  workDir?: string;
}

export interface SandboxExit {
  /** unshare's exit code: 128 + the signal that ended init (130 SIGINT = power off, 129 SIGHUP = reboot)... */
  code: number | null;
  /** ...or the same signal, re-raised by unshare (util-linux 2.38+). */
  signal: NodeJS.Signals | null;
  /** The signal that ended the node's init: "SIGINT" after a power off, "SIGHUP" after a reboot. */
  initSignal: string | null;
}

export interface Sandbox {
  /** Host pid of unshare (the sandbox's outermost process). */
  readonly pid: number;
  /** The booted rootfs (the private copy when privateCopy). */
  readonly rootfs: string;
  /** The machine API socket as the host sees it. */
  readonly socketPath: string;
  /** The sandbox's own cgroup directory on the host. */
  readonly cgroupDir: string;
  /** Every console line so far (stdout and stderr of init). */
  readonly lines: string[];
  /** When each line arrived (Date.now(), same index as lines). */
  readonly lineTimes: number[];
  /** Host pid of the node's PID 1. */
  initPid(timeoutMs?: number): Promise<number>;
  /** Resolves with the first console line (past or future) matching `re`; rejects after timeoutMs with the console tail. */
  waitForLine(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** Sends a signal to the node's init (SIGTERM: power off, SIGINT: reboot). */
  signal(sig: NodeJS.Signals): Promise<void>;
  /** Signals init (default SIGTERM) and waits for the sandbox to end (SIGKILL after timeoutMs). */
  stop(sig?: NodeJS.Signals, timeoutMs?: number): Promise<SandboxExit>;
  readonly exited: Promise<SandboxExit>;
  /** Ends whatever is left (SIGKILL), removes the cgroup and the private copy. Idempotent. */
  cleanup(): Promise<void>;
}

/** Sandboxes not cleaned up yet: what an exiting launcher must still end and remove. */
const live = new Map<ChildProcess, { cgroupDir: string; tmp: string | undefined }>();
process.on("exit", () => {
  // A test that timed out or a runner that exits early must not leave nodes, cgroups or copies behind.
  for (const [c, { cgroupDir, tmp }] of live) {
    try {
      const pid = childrenOf(c.pid!)[0];
      if (pid) process.kill(pid, "SIGKILL"); // ends the PID namespace whole
      c.kill("SIGKILL");
    } catch {}
    // Synchronous here: wait (up to 2 s) for the killed processes to leave the cgroup.
    for (let i = 0; i < 100; i++) {
      try {
        if (existsSync(cgroupDir)) rmTree(cgroupDir);
        break;
      } catch {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
});

/** The host's cgroup v2 mount (hybrid hosts mount it at /sys/fs/cgroup/unified). */
export function hostCgroup2Root(): string {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash > 0 && f[dash + 1] === "cgroup2") return f[4]!;
  }
  throw new Error("no cgroup2 mount on this host (mount one: mount -t cgroup2 none /sys/fs/cgroup/unified)");
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let counter = 0;

export async function bootSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const source = resolve(opts.rootfs ?? DEFAULT_ROOTFS);
  if (!existsSync(join(source, "sbin/init"))) throw new Error(`${source}/sbin/init missing: run \`bun run build\` first`);
  const privateCopy = opts.privateCopy ?? true;
  let tmp: string | undefined;
  let root = source;
  if (privateCopy) {
    tmp = mkdtempSync(join(opts.workDir ?? tmpdir(), "minos-sandbox-"));
    root = join(tmp, "rootfs");
    run(["cp", "-al", source, root]);
    ownMinosCopy(source, root);
    // Trees a node writes in place get real copies: a hard link would write through to the shared rootfs.
    for (const d of ["etc", "system"]) {
      if (!existsSync(join(source, d))) continue;
      rmSync(join(root, d), { recursive: true, force: true });
      run(["cp", "-a", join(source, d), join(root, d)]);
    }
  } else if (opts.files?.length) {
    throw new Error("files need privateCopy: test files never go into a shared rootfs");
  }
  for (const f of opts.files ?? []) {
    const dest = join(root, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    if (f.from) copyFileSync(f.from, dest);
    else writeFileSync(dest, f.content ?? "");
    if (f.mode !== undefined) chmodSync(dest, f.mode);
  }
  if (opts.config !== undefined) {
    const dest = join(root, STORED_CONFIG_IN_ROOTFS);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, opts.config, { mode: 0o600 });
  }
  // A stale socket from an earlier run would look like a live API.
  rmSync(join(root, API_SOCKET_IN_ROOTFS), { force: true });

  const cgroupDir = join(hostCgroup2Root(), ownCgroup(), `minos-sandbox-${process.pid}-${++counter}`);
  mkdirSync(cgroupDir);

  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  // sh moves itself into the fresh cgroup, then execs the exact sandbox command (same pid).
  const argv = [
    "-c",
    'cg="$1"; shift; echo $$ > "$cg/cgroup.procs" && exec "$@"',
    "sh",
    cgroupDir,
    "env",
    "-i",
    "container=minos",
    "PATH=/sbin:/bin",
    ...env,
    // The node never outlives whoever launched it (a test runner killed with
    // -9, an interrupted bench): setpriv makes unshare get SIGKILL when its
    // parent dies, and --kill-child makes the node's PID 1 get SIGKILL when
    // unshare dies, which ends the whole PID namespace.
    "setpriv",
    "--pdeathsig",
    "KILL",
    "unshare",
    "--kill-child=SIGKILL",
    "--pid",
    "--fork",
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    // Always a cgroup namespace rooted at the sandbox's cgroup. In the initial
    // cgroup namespace a cgroup2 mount re-applies its options (none, so
    // nsdelegate and memory_recursiveprot cleared) to the root the host shares,
    // and on Linux 6.18 it takes the threadgroup rwsem for write: an RCU grace
    // period, 10-14 ms of every boot spent blocked in mount(2). In a cgroup
    // namespace the mount leaves the host's flags alone and takes ~0.05 ms.
    "--cgroup",
    ...(opts.containers ? ["/bin/sh", "-c", 'mount --bind "$0" "$0" && exec chroot "$0" /sbin/init', root] : ["chroot", root, "/sbin/init"]),
  ];
  const child = spawn("/bin/sh", argv, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  live.set(child, { cgroupDir, tmp });
  const lines: string[] = [];
  const lineTimes: number[] = [];
  const listeners = new Set<() => void>();
  const echo = opts.echo === true ? (l: string) => process.stdout.write(l + "\n") : opts.echo || undefined;
  const onData = (() => {
    const partial = { out: "", err: "" };
    return (which: "out" | "err") => (chunk: Buffer) => {
      const parts = (partial[which] + chunk.toString("utf8")).split("\n");
      partial[which] = parts.pop() ?? "";
      for (const l of parts) {
        lines.push(l);
        lineTimes.push(Date.now());
        echo?.(l);
      }
      for (const f of [...listeners]) f();
    };
  })();
  child.stdout!.on("data", onData("out"));
  child.stderr!.on("data", onData("err"));
  const exited = new Promise<SandboxExit>((resolveExit) =>
    child.on("exit", (code, signal) => {
      for (const f of [...listeners]) f();
      // util-linux's unshare either exits 128+N or re-raises the signal that ended its child.
      const initSignal = signal ?? (code !== null && code > 128 ? (signalName(code - 128) ?? `signal ${code - 128}`) : null);
      resolveExit({ code, signal, initSignal });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));

  const sb: Sandbox = {
    pid: child.pid!,
    rootfs: root,
    socketPath: join(root, API_SOCKET_IN_ROOTFS),
    cgroupDir,
    lines,
    lineTimes,
    exited,
    async initPid(timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const kids = childrenOf(child.pid!);
        if (kids[0]) return kids[0];
        if (done || Date.now() > until) throw new Error("the sandbox's init did not start");
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    waitForLine(re, timeoutMs = 30_000, from = 0) {
      return new Promise((resolveLine, reject) => {
        let checked = from;
        const check = () => {
          for (; checked < lines.length; checked++) {
            const m = re.exec(lines[checked]!);
            if (m) {
              cleanupWait();
              return resolveLine(m);
            }
          }
          if (done) {
            cleanupWait();
            reject(new Error(`sandbox ended before a line matched ${re}; console tail:\n${lines.slice(-40).join("\n")}`));
          }
        };
        const timer = setTimeout(() => {
          cleanupWait();
          reject(new Error(`no console line matched ${re} within ${timeoutMs} ms; console tail:\n${lines.slice(-40).join("\n")}`));
        }, timeoutMs);
        const cleanupWait = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async signal(sig) {
      process.kill(await sb.initPid(), sig);
    },
    async stop(sig = "SIGTERM", timeoutMs = 60_000) {
      if (!done) await sb.signal(sig).catch(() => {});
      const timer = setTimeout(() => {
        for (const p of childrenOf(child.pid!)) process.kill(p, "SIGKILL");
      }, timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    async cleanup() {
      if (!done) {
        for (const p of childrenOf(child.pid!)) {
          try {
            process.kill(p, "SIGKILL"); // init: the kernel then kills the whole PID namespace
          } catch {}
        }
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      await removeCgroup(cgroupDir);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      live.delete(child);
    },
  };
  return sb;
}

/** Removes a cgroup tree bottom-up, killing anything left in it first (it is this sandbox's alone). */
export async function removeCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {}
  const until = Date.now() + 5000;
  for (;;) {
    try {
      rmTree(dir);
      return;
    } catch (e) {
      if (Date.now() > until) throw new Error(`cannot remove cgroup ${dir}: ${e instanceof Error ? e.message : String(e)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function rmTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
  rmdirSync(dir);
}

/**
 * Gives the copy's /sbin its own minos inode: one real copy of /sbin/init,
 * the other names (dashboard, poweroff, shutdown, wrapperd) hard-linked to it
 * inside the copy. A `cp -al` link would add links to the shared rootfs's
 * binary, whose link count (5) is part of the build's contract
 * (test/main.test.ts), for as long as the copy exists.
 */
function ownMinosCopy(source: string, root: string): void {
  const init = join(source, "sbin/init");
  const { ino, mode } = statSync(init);
  const names = readdirSync(join(source, "sbin")).filter((n) => {
    try {
      return lstatSync(join(source, "sbin", n)).ino === ino;
    } catch {
      return false;
    }
  });
  for (const n of names) rmSync(join(root, "sbin", n), { force: true });
  const first = join(root, "sbin/init");
  copyFileSync(init, first);
  chmodSync(first, mode & 0o7777);
  for (const n of names) if (n !== "init") linkSync(first, join(root, "sbin", n));
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr?.toString().trim()}`);
}
