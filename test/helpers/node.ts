// Shared pieces of the sandbox tests: a config with extra (busybox) services,
// a boot that always cleans up, and host-side views of the node's processes.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { stringify } from "yaml";
import { bootSandbox, type Sandbox, type SandboxOptions } from "../../scripts/sandbox.ts";
import { busyboxFile } from "./busybox.ts";

export interface TestService {
  id: string;
  command: string[];
  dependsOn?: string[];
  restart?: "always" | "on-failure" | "never";
  backoff?: { initialMs: number; maxMs: number };
  stopGraceMs?: number;
  console?: boolean;
}

/** A v1alpha1 config whose minos.services extension declares `services` (console on by default). */
export function configWith(services: TestService[], machine: Record<string, unknown> = {}): string {
  return stringify({
    version: "v1alpha1",
    machine,
    minos: { services: services.map((s) => ({ console: true, ...s })) },
  });
}

/** Boots a private sandbox with busybox at /test/busybox, runs `fn`, always cleans up. */
export async function withNode<T>(opts: SandboxOptions, fn: (sb: Sandbox) => Promise<T>): Promise<T> {
  const sb = await bootSandbox({ ...opts, files: [busyboxFile(), ...(opts.files ?? [])], echo: process.env.MINOS_TEST_ECHO ? true : opts.echo });
  try {
    return await fn(sb);
  } finally {
    await sb.cleanup();
  }
}

/** Host pids of every process in the same PID namespace as `initPid` (itself included). */
export function namespacePids(initPid: number): number[] {
  const ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) === ns) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** /proc/<pid>/stat: state letter and utime+stime in clock ticks. */
export function procStat(pid: number): { state: string; ppid: number; cpuTicks: number } {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: f[0]!, ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) };
}

/** Zombies in the node's PID namespace. */
export function zombies(initPid: number): number[] {
  return namespacePids(initPid).filter((p) => {
    try {
      return procStat(p).state === "Z";
    } catch {
      return false;
    }
  });
}

/** Console lines matching `re`. */
export function matching(sb: Sandbox, re: RegExp): string[] {
  return sb.lines.filter((l) => re.test(l));
}

/** Index of the first console line matching `re` (-1 when none). */
export function indexOf(sb: Sandbox, re: RegExp): number {
  return sb.lines.findIndex((l) => re.test(l));
}
