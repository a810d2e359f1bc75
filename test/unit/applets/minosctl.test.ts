// minosctl against the in-process machine API (FakeBackend): every command
// through main() with a captured Io, the client config and generated
// certificates over mutual TLS, one-line failures, and the compiled binary
// (`dist/minos ctl`) speaking to the same server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { dispatch } from "../../../src/main.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { startFixture, type ApiFixture } from "../../helpers/fake-backend.ts";

let f: ApiFixture;
let node: string[];
let home: string;

beforeAll(async () => {
  f = await startFixture();
  node = ["-n", `unix:${f.socketPath}`];
  home = join(f.dir, "home");
  mkdirSync(home);
});
afterAll(async () => {
  await f.close();
});

async function ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo({ HOME: home });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe("minosctl over the node socket", () => {
  test("version shows client and server", async () => {
    const r = await ctl(...node, "version");
    expect(r.code).toBe(0);
    expect(r.out).toContain("Client:");
    expect(r.out).toMatch(/NODE:\s+fake-node/);
    expect(r.out).toMatch(/Tag:\s+v0\.1\.0/);
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    expect(r.out).toContain(`\tKernel:      ${release}\n`);
  });

  test("services table, one service, and service control", async () => {
    const r = await ctl(...node, "services");
    expect(r.out.split("\n")[0]).toMatch(/^NODE\s+SERVICE\s+STATE\s+HEALTH/);
    expect(r.out).toMatch(/fake-node\s+containerd\s+Running\s+OK/);
    expect((await ctl(...node, "services", "udevd")).out).toMatch(/ID\s+udevd/);
    expect((await ctl(...node, "service", "udevd", "stop")).out).toContain("stopped");
    expect(f.backend.services.get("udevd")!.state).toBe("Finished");
    expect((await ctl(...node, "service", "udevd", "start")).code).toBe(0);
    expect((await ctl(...node, "service", "udevd", "restart")).code).toBe(0);
    expect(f.backend.services.get("udevd")!.state).toBe("Running");
  });

  test("unknown service: NOT_FOUND in one line, exit 1", async () => {
    const r = await ctl(...node, "service", "nope", "restart");
    expect(r.code).toBe(1);
    expect(r.err).toBe('minosctl: not found: service "nope" not found\n');
  });

  test("logs with --tail, and -f delivers a line written later", async () => {
    expect((await ctl(...node, "logs", "containerd")).out).toBe("containerd: started\ncontainerd: ready\n");
    expect((await ctl(...node, "logs", "containerd", "--tail", "1")).out).toBe("containerd: ready\n");
    const ring = f.backend.services.get("machined")!.ring;
    const io = captureIo({ HOME: home });
    void main([...node, "logs", "machined", "-f", "--tail", "0"], io);
    const until = Date.now() + 3000;
    while (ring.followerCount === 0 && Date.now() < until) await Bun.sleep(10);
    ring.push("late line");
    while (!io.out.includes("late line") && Date.now() < until) await Bun.sleep(10);
    expect(io.out).toBe("late line\n");
  });

  test("events replays history and stops after --count", async () => {
    await f.backend.restartService("containerd");
    const r = await ctl(...node, "events", "--tail", "1", "--count", "1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ServiceStateEvent\s+service: containerd, action: RUNNING/);
    const j = await ctl(...node, "-o", "json", "events", "--tail", "1", "--count", "1");
    expect(JSON.parse(j.out.trim())).toMatchObject({ type: "machine.ServiceStateEvent", payload: { service: "containerd" } });
  });

  test("list shows the five hard-linked names with one inode (-l), and -r/-d", async () => {
    const sbin = join(f.dir, "root", "sbin");
    mkdirSync(join(sbin, "sub", "subsub"), { recursive: true });
    writeFileSync(join(sbin, "init"), "minos");
    for (const n of ["dashboard", "poweroff", "shutdown", "wrapperd"]) linkSync(join(sbin, "init"), join(sbin, n));
    const r = await ctl(...node, "list", sbin, "-l");
    const rows = r.out
      .trim()
      .split("\n")
      .slice(1)
      .filter((l) => !/\ssub$/.test(l));
    expect(rows.map((l) => l.split(/\s+/).at(-1))).toEqual(["dashboard", "init", "poweroff", "shutdown", "wrapperd"]);
    const inodes = new Set(rows.map((l) => l.split(/\s+/)[6]));
    expect(inodes.size).toBe(1);
    const j = JSON.parse((await ctl(...node, "-o", "json", "list", sbin)).out) as Array<{ inode: number; relative_name: string; is_dir: boolean }>;
    expect(new Set(j.filter((x) => !x.is_dir).map((x) => x.inode)).size).toBe(1);
    expect((await ctl(...node, "list", sbin, "-r")).out).toContain("sub/subsub");
    expect((await ctl(...node, "list", sbin, "-d", "1")).out).not.toContain("sub/subsub");
  });

  test("read prints a file; a missing one is NOT_FOUND", async () => {
    const p = join(f.dir, "hello.txt");
    writeFileSync(p, "hello\nworld\n");
    expect((await ctl(...node, "read", p)).out).toBe("hello\nworld\n");
    const r = await ctl(...node, "read", join(f.dir, "missing"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("not found:");
  });

  test("mounts, memory, processes, loadavg, systemstat, cpuinfo, netdev, diskstats, hostname", async () => {
    expect((await ctl(...node, "mounts")).out).toMatch(/MOUNTED ON[\s\S]*\s\/\n/);
    expect((await ctl(...node, "memory")).out).toMatch(/^NODE\s+TOTAL\s+USED/);
    expect((await ctl(...node, "processes")).out).toMatch(new RegExp(`fake-node\\s+${process.pid}\\s`));
    expect((await ctl(...node, "loadavg")).out).toMatch(/LOAD1/);
    expect((await ctl(...node, "systemstat")).out).toMatch(/BOOT TIME/);
    expect((await ctl(...node, "cpuinfo")).out).toMatch(/PROCESSOR/);
    expect((await ctl(...node, "netdev")).out).toMatch(/\slo\s/);
    expect((await ctl(...node, "disks")).code).toBe(0);
    expect((await ctl(...node, "diskstats")).code).toBe(0);
    expect((await ctl(...node, "hostname")).out).toBe("fake-node\n");
    const y = parse((await ctl(...node, "-o", "yaml", "memory")).out) as { memtotal: number };
    expect(y.memtotal).toBeGreaterThan(0);
  });

  test("get-config and apply-config; invalid config is INVALID_ARGUMENT and changes nothing", async () => {
    expect((await ctl(...node, "get-config")).out).toBe(f.backend.config);
    const before = f.backend.config;
    const bad = join(f.dir, "bad.yaml");
    writeFileSync(bad, "machine:\n  colour: blue\n");
    const r = await ctl(...node, "apply-config", "-f", bad, "--mode", "no-reboot");
    expect(r.code).toBe(1);
    expect(r.err).toBe('minosctl: invalid argument: config: unknown key "machine.colour"\n');
    expect(f.backend.config).toBe(before);
    const good = join(f.dir, "good.yaml");
    writeFileSync(good, "machine:\n  hostname: fake-node\n  sysctls: {}\n");
    const ok = await ctl(...node, "apply-config", "-f", good, "--mode", "no-reboot");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("Applied configuration (mode no-reboot)");
    expect(f.backend.config).toContain("sysctls");
  });

  test("reset: Talos's flags reach the backend; disks lists what storage.Disks says", async () => {
    f.backend.resets.length = 0;
    expect((await ctl(...node, "reset")).out).toBe("fake-node: reset started (wipe STATE, EPHEMERAL, then power off)\n");
    expect((await ctl(...node, "reset", "--reboot", "--graceful=false", "--system-labels-to-wipe", "STATE")).code).toBe(0);
    expect(f.backend.resets).toEqual([
      { graceful: true, reboot: false, labels: ["STATE", "EPHEMERAL"] },
      { graceful: false, reboot: true, labels: ["STATE"] },
    ]);
    const bad = await ctl(...node, "reset", "--system-labels-to-wipe", "BOOT");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('"BOOT" cannot be wiped');
    f.backend.fakeDisks = [
      {
        size: 10 * 2 ** 30,
        model: "QEMU HARDDISK",
        deviceName: "vda",
        name: "",
        serial: "s1",
        modalias: "virtio:d00000002v00001AF4",
        uuid: "",
        wwid: "",
        type: "HDD",
        busPath: "/pci0000:00/0000:00:04.0",
        systemDisk: true,
        subsystem: "/sys/class/block",
        readonly: false,
      },
    ];
    const d = await ctl(...node, "disks");
    f.backend.fakeDisks = [];
    expect(d.out).toMatch(/^NODE\s+DEV\s+MODEL/);
    expect(d.out).toMatch(/\/dev\/vda\s+QEMU HARDDISK\s+s1\s+HDD/);
  });

  test("shutdown and reboot", async () => {
    f.backend.powerActions.length = 0;
    expect((await ctl(...node, "shutdown")).out).toBe("fake-node: shutdown started\n");
    expect((await ctl(...node, "reboot")).out).toBe("fake-node: reboot started\n");
    expect(f.backend.powerActions).toEqual(["poweroff", "reboot"]);
  });

  test("`minos ctl` is the same applet", async () => {
    const io = captureIo({ HOME: home });
    expect(await dispatch("minos", ["ctl", ...node, "hostname"], io)).toBe(0);
    expect(io.out).toBe("fake-node\n");
  });
});

describe("minosctl failures are one clear line", () => {
  test("unreachable node", async () => {
    const r = await ctl("-n", `unix:${join(f.dir, "nothing.sock")}`, "version");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^minosctl: unavailable: unix:\S+nothing\.sock: no such socket \(is the node running\?\)\n$/);
  });

  test("TCP without certificates", async () => {
    // An empty client config: no certificates in it.
    writeFileSync(join(f.dir, "empty-config"), "");
    const r = await ctl("--minosconfig", join(f.dir, "empty-config"), "-n", `127.0.0.1:${f.tcpPort}`, "version");
    expect(r.code).toBe(1);
    expect(r.err.split("\n").length).toBe(2);
    expect(r.err).toContain("client certificate");
  });

  test("an unknown --context is a usage error naming the config, not a silent fallback", async () => {
    const cfg = join(f.dir, "ctx-config");
    writeFileSync(cfg, `context: here\ncontexts:\n  here:\n    endpoints: [ "unix:${f.socketPath}" ]\n`);
    const bad = await ctl("--minosconfig", cfg, "--context", "there", "version");
    expect(bad.code).toBe(2);
    expect(bad.err.split("\n")[0]).toBe(`minosctl: no context "there" in ${cfg}`);
    // Without a config file at all (the default path missing), any named context is unknown too.
    const none = await ctl("--context", "x", "version");
    expect(none.code).toBe(2);
    expect(none.err).toContain('no context "x"');
    // The named context that exists is used.
    const ok = await ctl("--minosconfig", cfg, "--context", "here", "hostname");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("fake-node");
  });

  test("usage errors exit 2", async () => {
    expect((await ctl("frobnicate")).code).toBe(2);
    expect((await ctl(...node, "logs")).err).toContain("missing service id");
    expect((await ctl(...node, "list", "/", "--bogus")).code).toBe(2);
  });
});

describe("gen and mutual TLS through the client config", () => {
  let dir: string;
  beforeAll(() => {
    dir = join(f.dir, "pki");
    // Save the fixture's CA as a machine config holds it (base64 PEM under machine.ca).
    mkdirSync(dir);
    writeFileSync(
      join(dir, "machine.yaml"),
      `machine:\n  ca:\n    crt: ${Buffer.from(f.ca.cert).toString("base64")}\n    key: ${Buffer.from(f.ca.key).toString("base64")}\n`,
    );
  });

  test("gen ca writes a CA pair", async () => {
    const r = await ctl("gen", "ca", "--out", join(dir, "newca"));
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "newca", "ca.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
    expect(readFileSync(join(dir, "newca", "ca.key"), "utf8")).toContain("BEGIN PRIVATE KEY");
  });

  test("role matrix: reader is denied shutdown, operator may, both with generated certs", async () => {
    for (const role of ["os:reader", "os:operator"]) {
      const name = role.slice(3);
      const r = await ctl(
        "gen",
        "client",
        "--role",
        role,
        "--from-config",
        join(dir, "machine.yaml"),
        "--out",
        dir,
        "--name",
        name,
        "--endpoint",
        `127.0.0.1:${f.tcpPort}`,
        "--config",
        join(dir, `${name}.config`),
      );
      expect(r.code).toBe(0);
    }
    f.backend.powerActions.length = 0;
    const reader = await ctl("--minosconfig", join(dir, "reader.config"), "shutdown");
    expect(reader.code).toBe(1);
    expect(reader.err).toBe("minosctl: permission denied: Shutdown: role os:reader is not allowed (needs os:operator)\n");
    expect((await ctl("--minosconfig", join(dir, "reader.config"), "hostname")).out).toBe("fake-node\n");
    const op = await ctl("--minosconfig", join(dir, "operator.config"), "shutdown");
    expect(op.code).toBe(0);
    expect(f.backend.powerActions).toEqual(["poweroff"]);
  });

  test("get-config: a reader gets the config with machine.ca.key redacted; the local socket (admin) gets the key", async () => {
    const saved = f.backend.config;
    const key = Buffer.from(f.ca.key).toString("base64");
    f.backend.config = readFileSync(join(dir, "machine.yaml"), "utf8");
    try {
      const r = await ctl("--minosconfig", join(dir, "reader.config"), "get-config");
      expect(r.code).toBe(0);
      expect(r.out).not.toContain(key);
      expect(r.out).toBe(f.backend.config.replace(key, "REDACTED"));
      expect((await ctl(...node, "get-config")).out).toContain(`key: ${key}`);
    } finally {
      f.backend.config = saved;
    }
  });

  test("a certificate from another CA fails the TLS handshake: one line, exit 1", async () => {
    await ctl("gen", "ca", "--out", join(dir, "other"));
    await ctl(
      "gen",
      "client",
      "--role",
      "os:admin",
      "--ca-crt",
      join(dir, "other", "ca.crt"),
      "--ca-key",
      join(dir, "other", "ca.key"),
      "--out",
      join(dir, "other"),
      "--endpoint",
      `127.0.0.1:${f.tcpPort}`,
    );
    const r = await ctl("--minosconfig", join(dir, "other", "config"), "version");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^minosctl: unavailable: 127\.0\.0\.1:\d+: .+\n$/);
  });
});

describe("the compiled binary", () => {
  test("dist/minos ctl talks to the API over the socket and over mutual TLS", async () => {
    expect(existsSync("dist/minos")).toBe(true); // `bun run build` first (npm test does)
    // The server lives in this process: run the binary asynchronously (spawnSync would block its event loop).
    const r = await Bun.$`dist/minos ctl -n unix:${f.socketPath} services`.env({ HOME: home }).nothrow().quiet();
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/containerd\s+Running/);
    const dir = join(f.dir, "bin-pki");
    mkdirSync(dir);
    writeFileSync(join(dir, "ca.crt"), f.ca.cert);
    writeFileSync(join(dir, "ca.key"), f.ca.key);
    const gen =
      await Bun.$`dist/minos ctl gen client --role os:reader --ca-crt ${join(dir, "ca.crt")} --ca-key ${join(dir, "ca.key")} --out ${dir} --endpoint 127.0.0.1:${f.tcpPort}`
        .nothrow()
        .quiet();
    expect(gen.exitCode).toBe(0);
    const tls = await Bun.$`dist/minos ctl --minosconfig ${join(dir, "config")} -o json version`.nothrow().quiet();
    expect(tls.exitCode).toBe(0);
    expect(JSON.parse(tls.stdout.toString()).version.tag).toBe("v0.1.0");
    const denied = await Bun.$`dist/minos ctl --minosconfig ${join(dir, "config")} reboot`.nothrow().quiet();
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr.toString()).toContain("permission denied");
  });
});
