// Rows 2, 3 and 6 measured on a booted sandbox node (real containerd):
//   boot    exec -> API answering, exec -> all services healthy
//   memory  PID 1's RSS after boot and after 10,000 API calls
//   supervision  kill -9 of containerd -> a new containerd process
// and the peers they stand beside (busybox init's first action and respawn,
// a Bun "hello" binary's RSS, tini's RSS).
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { bootSandbox, type Sandbox, type SandboxOptions } from "../../scripts/sandbox.ts";
import { connect } from "../../src/api/client.ts";
import { VALID } from "../../test/helpers/configs.ts";

function statusKiB(pid: number, field: "VmRSS" | "RssAnon"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`bench: no ${field} for ${pid}`);
  return Number(m[1]);
}

export function rssKiB(pid: number): number {
  return statusKiB(pid, "VmRSS");
}

/**
 * The anonymous part of the RSS: heap, JIT code, stacks. The rest of the RSS
 * is file pages of the executable and its libraries, shared by every process
 * of the same binary (init, wrapperd, the dashboard) and, on a real node, pages
 * of the initramfs that are in memory whether mapped or not.
 */
export function anonKiB(pid: number): number {
  return statusKiB(pid, "RssAnon");
}

/** Host pids of the processes in `initPid`'s PID namespace whose comm is `comm`. */
export function pidsNamed(initPid: number, comm: string): number[] {
  const ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) === ns && readFileSync(`/proc/${d}/comm`, "utf8").trim() === comm) out.push(Number(d));
    } catch {}
  }
  return out;
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

export interface BootSample {
  apiMs: number;
  healthyMs: number;
  /** init's own count (performance.now() at the healthy line: from exec of the runtime). */
  healthySelfMs: number;
}

/** Boots a private sandbox and times it; returns the node still running. */
export async function bootOnce(opts: SandboxOptions = {}): Promise<{ sb: Sandbox; sample: BootSample }> {
  const sb = await bootSandbox(opts);
  const t0 = performance.now(); // bootSandbox spawns synchronously just before it returns
  const apiMs = await until("the API", 30_000, async () => {
    if (!existsSync(sb.socketPath)) return undefined;
    try {
      await connect({ endpoint: `unix:${sb.socketPath}`, timeoutMs: 1000 }).version();
      return performance.now() - t0;
    } catch {
      return undefined;
    }
  });
  const m = await sb.waitForLine(/all services healthy in (\d+) ms/, 60_000);
  const healthyMs = performance.now() - t0;
  return { sb, sample: { apiMs, healthyMs, healthySelfMs: Number(m[1]) } };
}

/**
 * PID 1's RSS after a boot with a stored machine config (the shared one of
 * the tests: hostname, sysctls, files, a log destination, no cluster), the
 * way a user's node boots every time after its first.
 */
export async function configuredBootRss(opts: SandboxOptions): Promise<number> {
  const { sb } = await bootOnce({ ...opts, config: VALID });
  try {
    const init = await sb.initPid();
    await Bun.sleep(300);
    return rssKiB(init);
  } finally {
    await sb.cleanup();
  }
}

/** busybox init as PID 1 in the same kind of sandbox: exec -> its first sysinit action ran. */
export async function busyboxFirstAction(busybox: string): Promise<number> {
  const root = mkdtempSync("/tmp/minos-bench-bbboot-");
  try {
    for (const d of ["bin", "etc", "proc", "dev"]) Bun.spawnSync(["mkdir", "-p", `${root}/${d}`]);
    Bun.spawnSync(["cp", busybox, `${root}/bin/busybox`]);
    writeFileSync(`${root}/etc/inittab`, "::sysinit:/bin/busybox touch /ready\n");
    const t0 = performance.now();
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "chroot", root, "/bin/busybox", "init"], {
      stdio: ["ignore", "ignore", "ignore"],
      env: { container: "minos", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    const ms = await until("busybox init's first action", 10_000, () => (existsSync(`${root}/ready`) ? performance.now() - t0 : undefined));
    const kids = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const k of kids) process.kill(Number(k), "SIGKILL");
    await proc.exited;
    return ms;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** busybox init respawn: kill -9 of a `::respawn:` child -> a new child process. */
export async function busyboxRespawn(busybox: string, rounds: number): Promise<number[]> {
  const root = mkdtempSync("/tmp/minos-bench-bbresp-");
  try {
    for (const d of ["bin", "etc", "proc", "dev"]) Bun.spawnSync(["mkdir", "-p", `${root}/${d}`]);
    Bun.spawnSync(["cp", busybox, `${root}/bin/busybox`]);
    Bun.spawnSync(["ln", "-s", "busybox", `${root}/bin/sleep`]);
    writeFileSync(`${root}/etc/inittab`, "::respawn:/bin/sleep 100000\n");
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--mount", "chroot", root, "/bin/busybox", "init"], { stdio: ["ignore", "ignore", "ignore"] });
    const init = await until("busybox init", 5000, () => {
      const k = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim();
      return k ? Number(k.split(/\s+/)[0]) : undefined;
    });
    const out: number[] = [];
    try {
      for (let i = 0; i < rounds; i++) out.push(await respawnOnce(init, "sleep"));
    } finally {
      process.kill(init, "SIGKILL");
      await proc.exited;
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** kill -9 the one process named `comm` in the namespace; ms until a different one exists. */
export async function respawnOnce(initPid: number, comm: string): Promise<number> {
  const old = await until(`a ${comm} process`, 30_000, () => pidsNamed(initPid, comm)[0]);
  const t0 = performance.now();
  process.kill(old, "SIGKILL");
  return until(`${comm} to come back`, 60_000, () => (pidsNamed(initPid, comm).some((p) => p !== old) ? performance.now() - t0 : undefined));
}

/** Idle RSS and its anonymous part of a command (e.g. a Bun hello binary, tini) after it settles. */
export async function idleMemory(argv: string[]): Promise<{ rssKiB: number; anonKiB: number }> {
  const p = Bun.spawn(argv, { stdio: ["ignore", "ignore", "ignore"] });
  await Bun.sleep(300);
  try {
    return { rssKiB: rssKiB(p.pid), anonKiB: anonKiB(p.pid) };
  } finally {
    p.kill("SIGKILL");
    await p.exited;
  }
}

/** Idle RSS of a command after it settles. */
export async function idleRss(argv: string[]): Promise<number> {
  return (await idleMemory(argv)).rssKiB;
}
