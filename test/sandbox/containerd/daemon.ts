// A private containerd for the sandbox tests: Debian's binaries (fetched like
// the rootfs's, into the git-ignored .cache), its own root/state/socket in a
// tmp dir, and its own cgroup, mount, cgroup and PID namespaces, so nothing it
// does (shim sockets under /run, cgroups, containers) reaches the host.
// stop() kills everything in that cgroup and removes the cgroup and tmp dir.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchDebs } from "../../../build/debs.ts";

export interface Binaries {
  containerd: string;
  /** Directories holding containerd-shim-runc-v2 and runc, for PATH. */
  pathDirs: string[];
  busybox: string;
}

export function binaries(): Binaries {
  const debs = fetchDebs(["containerd", "runc", "busybox-static"]);
  const ctd = debs.get("containerd")!.tree;
  const runc = debs.get("runc")!.tree;
  const out: Binaries = {
    containerd: join(ctd, "usr/bin/containerd"),
    pathDirs: [join(ctd, "usr/bin"), join(runc, "usr/sbin")],
    busybox: join(debs.get("busybox-static")!.tree, "bin/busybox"),
  };
  for (const f of [out.containerd, join(ctd, "usr/bin/containerd-shim-runc-v2"), join(runc, "usr/sbin/runc"), out.busybox]) {
    if (!existsSync(f)) throw new Error(`containerd sandbox: ${f} missing from the extracted Debian package`);
  }
  return out;
}

function hostCgroup2Root(): string {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash > 0 && f[dash + 1] === "cgroup2") return f[4]!;
  }
  throw new Error("no cgroup2 mount on this host");
}

function ownCgroup(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  if (!line) throw new Error("/proc/self/cgroup has no cgroup v2 entry");
  return line.slice(3) || "/";
}

export class Daemon {
  readonly socket: string;
  readonly log: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly cgroupDir: string,
    readonly bins: Binaries,
  ) {
    this.socket = join(dir, "containerd.sock");
    this.log = join(dir, "containerd.log");
  }

  static start(): Daemon {
    if (process.getuid?.() !== 0) throw new Error("containerd sandbox tests need root (namespaces, cgroups, overlay mounts)");
    const bins = binaries();
    const dir = mkdtempSync(`/tmp/minos-ctd-${process.pid}-`);
    const cgroupDir = join(hostCgroup2Root(), ownCgroup(), `minos-ctd-test-${process.pid}`);
    mkdirSync(cgroupDir);
    const d = new Daemon(dir, cgroupDir, bins);
    d.spawn();
    return d;
  }

  private spawn(): void {
    const config = join(this.dir, "config.toml");
    writeFileSync(
      config,
      [
        "version = 2",
        `root = "${this.dir}/root"`,
        `state = "${this.dir}/state"`,
        `disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]`,
        "[grpc]",
        `  address = "${this.socket}"`,
        "[ttrpc]",
        `  address = "${this.socket}.ttrpc"`,
        "[debug]",
        `  address = ""`,
        `  level = "info"`,
        "[metrics]",
        `  address = ""`,
        `[plugins."io.containerd.internal.v1.opt"]`,
        `  path = "${this.dir}/opt"`,
        "",
      ].join("\n"),
    );
    // The outer sh moves itself into the test's cgroup; unshare then roots a
    // cgroup namespace there (runc sees an empty cgroup2 tree of its own, fact 9)
    // and the inner sh mounts that tree and a private /run (shim sockets) before
    // exec'ing containerd as PID 1 of the new PID namespace.
    const inner = `mount -t cgroup2 none /sys/fs/cgroup && mount -t tmpfs -o mode=755 tmpfs /run && exec "$0" --config "$1"`;
    const outer = `echo $$ > "$0/cgroup.procs" && exec unshare --mount --propagation private --cgroup --pid --fork --mount-proc -- sh -c '${inner}' "$1" "$2"`;
    writeFileSync(this.log, "");
    const child = spawn("sh", ["-c", outer, this.cgroupDir, this.bins.containerd, config], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: [...this.bins.pathDirs, "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":") },
    });
    const append = (b: Buffer) => appendFileSync(this.log, b);
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    this.exited = new Promise((r) => child.on("exit", () => r()));
    this.child = child;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.log, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Kills everything in the cgroup (containerd, shims, containers), then removes the cgroup and the tmp dir. */
  async stop(): Promise<void> {
    if (existsSync(this.cgroupDir)) {
      try {
        writeFileSync(join(this.cgroupDir, "cgroup.kill"), "1");
      } catch {
        this.child?.kill("SIGKILL");
      }
      await Promise.race([this.exited, Bun.sleep(5000)]);
      const until = Date.now() + 5000;
      for (;;) {
        try {
          removeCgroupTree(this.cgroupDir);
          break;
        } catch (e) {
          if (Date.now() > until) throw e;
          await Bun.sleep(50);
        }
      }
    }
    // Every mount containerd made lived in its mount namespace, gone with its last process.
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function removeCgroupTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) removeCgroupTree(p);
  }
  rmdirSync(dir);
}
