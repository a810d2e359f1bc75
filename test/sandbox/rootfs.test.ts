// dist/rootfs as `bun run build` leaves it: the seed's upstream binaries at
// Talos's paths, each running from inside the rootfs (so their libraries are
// all there), no shell, the five minos names on one inode, a minimal /etc, and
// containerd booting in a namespace sandbox and answering on its socket.
// Needs root (chroot, unshare) and a prior `bun run build`.
import { afterAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARIES, CNI_PLUGINS, XTABLES_LINKS, countBins } from "../../build/packages.ts";
import { CNI_BIN_DIR } from "../../src/containerd/cri-config.ts";

// Resolved once: a concurrent build swaps dist/rootfs by rename; this tree stays valid.
const ROOT = realpathSync("dist/rootfs");

/**
 * Runs argv chrooted into a read-only view of the rootfs with throwaway /dev,
 * /run and /tmp, in a private mount namespace: dmsetup and lvm mknod
 * /dev/mapper/control, and a test must not change the build output or the host.
 */
const SANDBOX = `R=$1; shift; mount --bind "$R" "$R" && mount -o remount,bind,ro "$R" && for d in dev run tmp; do mount -t tmpfs tmpfs "$R/$d" || exit 1; done && exec chroot "$R" "$@"`;

function inRoot(...argv: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["unshare", "--mount", "sh", "-c", SANDBOX, "sh", ROOT, ...argv], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

/** Each binary's version invocation, and what its output must contain. */
const VERSION: Record<string, [string[], RegExp]> = {
  "/bin/containerd": [["--version"], /containerd github\.com\/containerd\/containerd 1\./],
  "/bin/containerd-shim-runc-v2": [["-v"], /Version:\s+1\./],
  "/bin/containerd-shim": [["-h"], /grpc address back to main containerd/],
  "/bin/runc": [["--version"], /runc version 1\./],
  "/sbin/udevd": [["--version"], /^\d{3}/],
  "/sbin/modprobe": [["--version"], /kmod version/],
  "/sbin/lvm": [["version"], /LVM version:\s+2\./],
  "/sbin/dmsetup": [["--version"], /Library version:\s+1\.02/],
  "/sbin/mkfs.xfs": [["-V"], /mkfs\.xfs version/],
  "/sbin/xfs_repair": [["-V"], /xfs_repair version/],
  "/sbin/xtables-legacy-multi": [["iptables", "--version"], /iptables v1\.8\.\d+ \(legacy\)/],
};

describe("upstream binaries in dist/rootfs", () => {
  test("the version table covers exactly the built list", () => {
    expect(Object.keys(VERSION).sort()).toEqual(BINARIES.map((b) => b.to).sort());
  });

  for (const [path, [args, want]] of Object.entries(VERSION)) {
    test(`${path} ${args.join(" ")} runs inside chroot`, () => {
      expect(statSync(join(ROOT, path)).isFile()).toBe(true);
      const r = inRoot(path, ...args);
      expect(r.out).toMatch(want);
      expect(r.code).toBe(0);
    });
  }

  test("udevd runs as the udev daemon (invoked name), not as udevadm", () => {
    expect(inRoot("/sbin/udevd", "--help").out).toMatch(/Rule-based manager for device events/);
  });

  test("the iptables names are symlinks to xtables-legacy-multi and answer to their name", () => {
    expect(XTABLES_LINKS).toHaveLength(12);
    for (const l of XTABLES_LINKS) {
      expect(lstatSync(join(ROOT, l)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(ROOT, l))).toBe("xtables-legacy-multi");
    }
    expect(inRoot("/sbin/iptables", "--version").out).toMatch(/^iptables v1\.8\.\d+ \(legacy\)/);
    expect(inRoot("/sbin/ip6tables-save", "--version").out).toMatch(/^ip6tables-save v1\.8/);
  });

  test("iptables loads its match plugins (xtables .so files and their libraries)", () => {
    // A private network namespace: the rule lands in a throwaway table, not the host's.
    const r = Bun.spawnSync(
      ["unshare", "--net", "--mount", "sh", "-c", SANDBOX, "sh", ROOT, "/sbin/iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"],
      { stderr: "pipe" },
    );
    const err = r.stderr.toString();
    // Without the legacy ip_tables module on the host the kernel refuses the
    // table; anything else (a missing plugin or library) is our fault.
    if (/Table does not exist|can't initialize iptables table/.test(err)) return;
    expect(err).toBe("");
    expect(r.exitCode).toBe(0);
  });
});

describe("rootfs shape", () => {
  test("no shell and no coreutils", () => {
    for (const p of ["/bin/sh", "/bin/bash", "/sbin/sh", "/bin/ls", "/usr/bin/env", "/bin/busybox"]) {
      expect(existsSync(join(ROOT, p))).toBe(false);
    }
  });

  test("the five minos names share one inode with link count 5", () => {
    const names = ["init", "dashboard", "poweroff", "shutdown", "wrapperd"].map((n) => statSync(join(ROOT, "sbin", n)));
    expect(new Set(names.map((s) => s.ino)).size).toBe(1);
    expect(names[0]?.nlink).toBe(5);
  });

  test("ctr (a client, not in the Talos list) is not shipped", () => {
    expect(existsSync(join(ROOT, "bin/ctr"))).toBe(false);
  });

  test("os-release names minos", () => {
    const text = readFileSync(join(ROOT, "etc/os-release"), "utf8");
    expect(text).toMatch(/^NAME="minos"$/m);
    expect(text).toMatch(/^ID=minos$/m);
    const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
    expect(text).toContain(`VERSION_ID="${version}"`);
  });

  test("passwd and group hold root and nobody (65534)", () => {
    expect(readFileSync(join(ROOT, "etc/passwd"), "utf8")).toMatch(/^nobody:x:65534:65534:/m);
    expect(readFileSync(join(ROOT, "etc/group"), "utf8")).toMatch(/^root:x:0:$/m);
  });

  test("the CNI plugins are at /opt/cni/bin, run from inside the rootfs, and /bin + /sbin stay at twelve unique files", () => {
    for (const p of CNI_PLUGINS) {
      const path = join(CNI_BIN_DIR, p);
      expect(statSync(join(ROOT, path)).isFile()).toBe(true);
      // CNI_COMMAND=VERSION: every plugin answers with the spec versions it supports (CNI spec, "VERSION").
      const r = Bun.spawnSync(["unshare", "--mount", "sh", "-c", SANDBOX, "sh", ROOT, path], {
        env: { CNI_COMMAND: "VERSION" },
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(JSON.parse(r.stdout.toString()).supportedVersions).toContain("0.4.0");
    }
    expect(countBins(ROOT).unique).toBe(12);
  });

  test("udev rules are shipped", () => {
    for (const r of ["50-udev-default.rules", "60-persistent-storage.rules", "55-dm.rules"]) {
      expect(existsSync(join(ROOT, "usr/lib/udev/rules.d", r))).toBe(true);
    }
  });
});

/** grpc.health.v1.Health/Check with an empty request; resolves with the status enum. */
function healthCheck(socket: string): Promise<number> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  return new Promise<number>((resolve, reject) => {
    // HealthCheckRequest{service: ""} encodes to zero bytes; the response is
    // HealthCheckResponse{status = 1 (SERVING)}: field 1 varint, bytes 08 01.
    client.makeUnaryRequest("/grpc.health.v1.Health/Check", id, id, Buffer.alloc(0), { deadline: Date.now() + 2000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res && res.length === 2 && res[0] === 0x08 ? (res[1] ?? 0) : -1);
    });
  });
}

describe("containerd in a namespace sandbox", () => {
  // Host-side state: /run and /var of the sandbox, so the socket is reachable
  // from here by path and nothing is written into dist/rootfs.
  const state = mkdtempSync(join(tmpdir(), "minos-ctd-"));
  let unsharePid = 0;

  /** The sandbox's PID 1 (containerd): unshare --fork's only child. */
  function nsInit(): number {
    try {
      return Number(readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(" ")[0]) || 0;
    } catch {
      return 0;
    }
  }

  afterAll(async () => {
    if (unsharePid) {
      // TERM lets containerd stop cleanly; when the namespace's PID 1 exits the
      // kernel kills the rest and unshare exits. KILL is the fallback.
      const init = nsInit();
      if (init) process.kill(init, "SIGTERM");
      for (let i = 0; i < 50 && existsSync(`/proc/${unsharePid}`); i++) await Bun.sleep(100);
      if (existsSync(`/proc/${unsharePid}`)) {
        const still = nsInit();
        if (still) process.kill(still, "SIGKILL");
        process.kill(unsharePid, "SIGKILL");
      }
    }
    rmSync(state, { recursive: true, force: true });
  });

  test("starts from /etc/containerd/config.toml on a read-only rootfs and answers Health/Check", async () => {
    const q = (s: string): string => `'${s}'`;
    const R = q(ROOT);
    // The mounts a node's init would make, in a private mount namespace (unshare
    // makes propagation private): they vanish with the sandbox. The host's sh
    // does them; the rootfs has no shell.
    const script = [
      `mount --bind ${R} ${R}`,
      `mount -o remount,bind,ro ${R}`,
      `mount -t proc proc ${R}/proc`,
      `mount -t sysfs sysfs ${R}/sys`,
      `mount --rbind /dev ${R}/dev`,
      `mount -t tmpfs tmpfs ${R}/tmp`,
      `mkdir -p ${q(state)}/run ${q(state)}/var`,
      `mount --bind ${q(state + "/run")} ${R}/run`,
      `mount --bind ${q(state + "/var")} ${R}/var`,
      `exec chroot ${R} /bin/containerd --config /etc/containerd/config.toml`,
    ].join(" && ");
    const proc = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts", "--ipc", "--net", "sh", "-c", script], {
      stdout: "ignore",
      stderr: "pipe",
    });
    unsharePid = proc.pid;
    const socket = join(state, "run/containerd/containerd.sock");

    let status = -1;
    let lastErr = "";
    for (let i = 0; i < 100 && status !== 1; i++) {
      if (proc.exitCode !== null) break;
      if (existsSync(socket)) {
        status = await healthCheck(socket).catch((e: Error) => {
          lastErr = e.message;
          return -1;
        });
      }
      if (status !== 1) await Bun.sleep(100);
    }
    if (status !== 1) {
      const init = nsInit();
      if (init) process.kill(init, "SIGTERM");
      const log = await new Response(proc.stderr).text();
      throw new Error(`containerd did not answer SERVING (${lastErr || "no socket"}); exit ${proc.exitCode}\n${log.slice(-3000)}`);
    }
    expect(status).toBe(1); // SERVING
    expect(existsSync(join(state, "var/lib/containerd"))).toBe(true);
  }, 20_000);
});
