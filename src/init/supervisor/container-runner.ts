// Talos's runner/containerd: one run of a service is a containerd task of an
// image. start = pull (skipped when the image is present) -> clean up a stale
// task/container/snapshot of the same id -> snapshot on the image's chain ->
// container with minos's OCI spec -> task with stdout/stderr FIFOs -> start.
// The run's exit comes from the task's Wait; when containerd goes away under
// a running task (it restarts; the shim and the container live on) the
// runner reconnects and waits on the same task again instead of reporting an
// exit, so the supervisor never starts a duplicate. After the exit the task,
// container and snapshot are deleted.
//
// The container's cgroup is the service's own (linux.cgroupsPath), so the
// supervisor's stop escalation (SIGTERM to the pid, grace, SIGKILL, cgroup.kill)
// reaches the container exactly as it reaches a process service.
import { closeSync, constants as fs, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ApiError, runcOptions, type ContainerdClient, type NamespaceClient } from "../../containerd/index.ts";
import { Code } from "../../api/status.ts";
import { pullImage, type LayerProgress, type PulledImage } from "../../images/pull.ts";
import type { RegistryClient } from "../../registry/client.ts";
import { InvalidReferenceError } from "../../registry/reference.ts";
import { DigestMismatchError, ManifestError, PlatformNotFoundError, RegistryError } from "../../registry/errors.ts";
import { mkfifo } from "../../sys/fifo.ts";
import { errText } from "../mechanisms/log.ts";
import type { CgroupTree } from "../mechanisms/cgroups.ts";
import type { ExitStatus } from "./reaper.ts";
import { readOutput } from "./output.ts";
import { runtimeSpec, type ContainerRunSpec } from "./oci-spec.ts";
import type { ContainerLauncher, Run } from "./run.ts";
import type { ServiceSpec } from "./spec.ts";

/** Where the stdout/stderr FIFOs of service containers live (a tmpfs on the node). */
export const CONTAINER_FIFO_DIR = "/run/minos/containers";
const STALE_KILL_WAIT_MS = 5000;
/** How often a runner whose containerd connection broke looks for it again. */
const RECONNECT_POLL_MS = 250;

/**
 * Why a container could not start. `retry`: the image could not be had right
 * now (registry down, 404, no linux/amd64 entry, digest mismatch, containerd
 * not answering) — the service waits and tries again with its backoff.
 * Otherwise (a malformed reference, runc refusing the spec or the entrypoint)
 * trying again would fail the same way: the service is Failed.
 */
export class ContainerStartError extends Error {
  override name = "ContainerStartError";
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export interface ContainerRunnerOptions {
  containerd(): ContainerdClient;
  registry(): RegistryClient;
  cgroups: CgroupTree;
  oomScore(spec: ServiceSpec): number | undefined;
  /** Capability names containerd can grant ("all" in a container spec). */
  grantableCaps(): string[];
  log(msg: string): void;
  /** Pull progress for the node's events (at the log's rate). */
  progress?(p: LayerProgress): void;
  /**
   * After a pull that fetched something: flush containerd's filesystem to its
   * device (syncfs of /var). containerd fsyncs its metadata and blobs but not
   * the files it unpacks into a snapshot, so without this a power cut soon
   * after a pull leaves an image whose record and snapshot say "present"
   * while its files are empty (measured: "exec format error" at every start
   * after the next boot, and the pull is never tried again).
   */
  persist?(): Promise<void>;
  fifoDir?: string;
}

function isCode(e: unknown, code: number): boolean {
  return e instanceof ApiError && e.code === code;
}

/** Whether a pull (or containerd call) that failed with `e` can succeed later: the image cannot be had right now, or containerd is away. */
export function retryable(e: unknown): boolean {
  if (e instanceof InvalidReferenceError) return false;
  if (e instanceof RegistryError || e instanceof DigestMismatchError || e instanceof ManifestError || e instanceof PlatformNotFoundError) return true;
  return isCode(e, Code.UNAVAILABLE) || isCode(e, Code.NOT_FOUND);
}

/** The three controllers runc would write limits to; said once per runner when the hierarchy lacks them. */
const LIMIT_CONTROLLERS = ["cpu", "memory", "pids"];

export class ContainerRunner implements ContainerLauncher {
  private saidControllers = false;

  constructor(private readonly o: ContainerRunnerOptions) {}

  async start(spec: ServiceSpec, onLine: (line: string) => void, status: (msg: string) => void): Promise<Run> {
    const c = spec.container;
    if (!c) throw new ContainerStartError(`service ${spec.id} is not a container`, false);
    const ctd = this.o.containerd();
    const ns = ctd.withNamespace(c.namespace);
    status(`pulling ${c.image}`);
    let image: PulledImage;
    try {
      image = await pullImage(ctd, this.o.registry(), c.image, {
        namespace: c.namespace,
        skipIfPresent: true,
        log: (l) => this.o.log(l),
        ...(this.o.progress ? { onProgressStep: this.o.progress } : {}),
      });
    } catch (e) {
      throw new ContainerStartError(`image ${c.image}: ${errText(e)}`, retryable(e));
    }
    if (!image.existed && this.o.persist) await persistPull(image.name, this.o.persist, (l) => this.o.log(l));
    this.sayControllers(spec);
    status(`creating container from ${image.name}@${image.target.digest}`);
    try {
      await this.removeStale(ns, spec.id);
    } catch (e) {
      throw new ContainerStartError(`removing the stale container ${spec.id}: ${errText(e)}`, retryable(e));
    }
    return this.createAndStart(ns, spec, c, image, onLine);
  }

  private sayControllers(spec: ServiceSpec): void {
    if (this.saidControllers) return;
    this.saidControllers = true;
    try {
      const have = readFileSync(join(this.o.cgroups.dir(spec.cgroup), "..", "cgroup.controllers"), "utf8")
        .trim()
        .split(/\s+/);
      const missing = LIMIT_CONTROLLERS.filter((x) => !have.includes(x));
      if (missing.length)
        this.o.log(
          `containers: cgroup controllers ${missing.join(", ")} absent here: container specs carry no cpu/memory/pids settings (minos sets none anyway)`,
        );
    } catch {}
  }

  /** A task, container or snapshot left by an earlier run (init restarted, a crash): removed before ours is made. */
  private async removeStale(ns: NamespaceClient, id: string): Promise<void> {
    try {
      const t = await ns.tasks.get(id);
      this.o.log(`container ${id}: removing a stale task (pid ${t.pid}, ${t.status})`);
      if (t.status !== "STOPPED") {
        await ns.tasks.kill(id, 9, { all: true }).catch(() => {});
        await ns.tasks.wait(id, "", STALE_KILL_WAIT_MS).catch(() => {});
      }
      await ns.tasks.delete(id).catch((e) => {
        if (!isCode(e, Code.NOT_FOUND)) throw e;
      });
    } catch (e) {
      if (!isCode(e, Code.NOT_FOUND)) throw e;
    }
    await ns.containers.delete(id).catch((e) => {
      if (!isCode(e, Code.NOT_FOUND)) throw e;
    });
    await ns.snapshots.remove(id).catch((e) => {
      if (!isCode(e, Code.NOT_FOUND)) throw e;
    });
  }

  private async createAndStart(ns: NamespaceClient, spec: ServiceSpec, c: ContainerRunSpec, image: PulledImage, onLine: (line: string) => void): Promise<Run> {
    const id = spec.id;
    this.o.cgroups.ensure(spec.cgroup);
    const mounts = c.mounts.filter((m) => {
      if (m.type !== "bind" || existsSync(m.source)) return true;
      if (m.optional) {
        this.o.log(`container ${id}: mount ${m.destination} left out: ${m.source} does not exist on this node`);
        return false;
      }
      try {
        mkdirSync(m.source, { recursive: true });
      } catch (e) {
        this.o.log(`container ${id}: cannot create ${m.source} for mount ${m.destination}: ${errText(e)}`);
      }
      return true;
    });
    let ociSpec: Record<string, unknown>;
    try {
      ociSpec = runtimeSpec({ ...c, mounts }, image.config, {
        id,
        cgroupsPath: this.o.cgroups.path(spec.cgroup),
        oomScore: this.o.oomScore(spec),
        grantable: this.o.grantableCaps(),
      });
    } catch (e) {
      throw new ContainerStartError(errText(e), false);
    }
    const cleanup = async () => {
      await ns.tasks.delete(id).catch(() => {});
      await ns.containers.delete(id).catch(() => {});
      await ns.snapshots.remove(id).catch(() => {});
    };
    const fifoDir = join(this.o.fifoDir ?? CONTAINER_FIFO_DIR, `${c.namespace}-${id}`);
    let fds: number[] = [];
    try {
      // The active snapshot is leased until the container refers to it: containerd's garbage
      // collector (run after any other pull drops its lease) would otherwise take it in between.
      const lease = `minos-create-${id}-${Date.now()}`;
      await ns.leases.create(lease, { "containerd.io/gc.expire": new Date(Date.now() + 10 * 60_000).toISOString() });
      let rootfs: Awaited<ReturnType<NamespaceClient["snapshots"]["prepare"]>>;
      try {
        rootfs = await ns.withLease(lease).snapshots.prepare(id, image.chainId);
        await ns.containers.create({
          id,
          spec: ociSpec,
          image: image.name,
          snapshotter: "overlayfs",
          snapshotKey: id,
          labels: { "minos.service": id },
          ...(rootIsInitramfs() ? { runtimeOptions: runcOptions({ noPivotRoot: true }) } : {}),
        });
      } finally {
        await ns.leases.delete(lease).catch(() => {});
      }
      rmSync(fifoDir, { recursive: true, force: true });
      mkdirSync(fifoDir, { recursive: true, mode: 0o700 });
      const stdout = join(fifoDir, "stdout");
      const stderr = join(fifoDir, "stderr");
      mkfifo(stdout);
      mkfifo(stderr);
      // Opened for reading, non-blocking, before the shim opens them for writing
      // (its open waits for a reader); read only once the task exists, when the
      // shim holds the write ends: EOF then means the task is gone.
      fds = [openSync(stdout, fs.O_RDONLY | fs.O_NONBLOCK), openSync(stderr, fs.O_RDONLY | fs.O_NONBLOCK)];
      await ns.tasks.create(id, { stdout, stderr, rootfs });
      for (const fd of fds) void readOutput(fd, onLine);
      fds = [];
      const pid = await ns.tasks.start(id);
      const exited = this.waitExit(ns, id).then(async (s) => {
        await cleanup();
        rmSync(fifoDir, { recursive: true, force: true });
        return s;
      });
      return { pid, exited };
    } catch (e) {
      for (const fd of fds) {
        try {
          closeSync(fd);
        } catch {}
      }
      await cleanup();
      rmSync(fifoDir, { recursive: true, force: true });
      throw new ContainerStartError(`container ${id}: ${errText(e)}`, isCode(e, Code.UNAVAILABLE));
    }
  }

  /** The task's exit, across containerd restarts: a broken connection means "ask again", not "exited". */
  private async waitExit(ns: NamespaceClient, id: string): Promise<ExitStatus> {
    for (;;) {
      try {
        const r = await ns.tasks.wait(id, "", undefined);
        return statusOf(r.exitStatus);
      } catch (e) {
        if (isCode(e, Code.NOT_FOUND)) return { code: 255, signal: null };
        if (!isCode(e, Code.UNAVAILABLE) && !isCode(e, Code.CANCELLED)) {
          this.o.log(`container ${id}: wait: ${errText(e)}; asking again`);
        }
      }
      // containerd is away: poll until it answers, then look at the task again.
      for (;;) {
        await Bun.sleep(RECONNECT_POLL_MS);
        try {
          const t = await ns.tasks.get(id);
          if (t.status === "STOPPED") return statusOf(t.exit_status);
          this.o.log(`container ${id}: containerd answers again; task pid ${t.pid} still ${t.status}`);
          break;
        } catch (e) {
          if (isCode(e, Code.NOT_FOUND)) return { code: 255, signal: null };
        }
      }
    }
  }
}

/** Flushes what a pull wrote; a failure is logged (the image is usable now, only its survival of a power cut is at stake). */
export async function persistPull(name: string, persist: () => Promise<void>, log: (line: string) => void): Promise<void> {
  const t0 = performance.now();
  try {
    await persist();
    log(`image ${name}: flushed to disk in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    log(`image ${name}: flushing to disk failed (${errText(e)}): a power cut now could leave the image's files incomplete`);
  }
}

let initramfsRoot: boolean | undefined;
/** The node's / is the kernel's initramfs (rootfs): pivot_root(2) is refused there, runc must not use it. */
export function rootIsInitramfs(): boolean {
  if (initramfsRoot === undefined) {
    try {
      const root = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" "))
        .find((f) => f[4] === "/");
      initramfsRoot = root !== undefined && root[root.indexOf("-") + 1] === "rootfs";
    } catch {
      initramfsRoot = false;
    }
  }
  return initramfsRoot;
}

/** containerd's exit status: 128+N for a process killed by signal N (as the shim reports it). */
function statusOf(exitStatus: number): ExitStatus {
  return exitStatus > 128 && exitStatus < 160 ? { code: null, signal: exitStatus - 128 } : { code: exitStatus, signal: null };
}
