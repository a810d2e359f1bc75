// The machine API server, in-process over a FakeBackend, called with a raw
// grpc-js client built from the generated descriptors: every call, errors as
// statuses, streams that follow and that free themselves on cancel, roles over
// mutual TLS, reflection and health.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import protobuf from "protobufjs";
import { generateCa, issueClientCert } from "../../../src/api/pki/certs.ts";
import type { NodeEvent } from "../../../src/node/events.ts";
import { redactConfig } from "../../../src/api/redact.ts";
import { decode } from "../../../src/api/schema.ts";
import { certFor, FakeBackend, rawLocal, rawRemote, startFixture, type ApiFixture, type RawClient } from "../../helpers/fake-backend.ts";
import { listedRole, requiredRole } from "../../../src/api/auth.ts";
import { serviceMethods } from "../../../src/api/schema.ts";
import { SERVED_SERVICES, startMachineApi, type MachineApi } from "../../../src/api/server.ts";

let f: ApiFixture;
let c: RawClient;

beforeAll(async () => {
  f = await startFixture();
  c = rawLocal(f);
});
afterAll(async () => {
  c.close();
  await f.close();
});

const code = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
};

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("local socket", () => {
  test("socket is mode 0600", () => {
    expect(statSync(f.socketPath).mode & 0o777).toBe(0o600);
  });

  test("Version and Hostname carry metadata", async () => {
    const v = await c.unary("Version");
    expect(v.messages[0].metadata.hostname).toBe("fake-node");
    expect(v.messages[0].version).toMatchObject({ tag: "v0.1.0", os: "linux", arch: "amd64" });
    expect(v.messages[0].version.go_version).toContain("bun");
    // minos field 1001: the running kernel's release, exactly as the kernel states it.
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    expect(release).not.toBe("");
    expect(v.messages[0].version.kernel).toBe(release);
    expect((await c.unary("Hostname")).messages[0].hostname).toBe("fake-node");
  });

  test("ServiceList and service control; unknown service is NOT_FOUND", async () => {
    const list = await c.unary("ServiceList");
    expect(list.messages[0].services.map((s: any) => s.id)).toEqual(["containerd", "udevd", "machined"]);
    expect(list.messages[0].services[0].health.healthy).toBe(true);
    expect((await c.unary("ServiceStop", { id: "udevd" })).messages[0].resp).toContain("stopped");
    expect(f.backend.services.get("udevd")!.state).toBe("Finished");
    await c.unary("ServiceStart", { id: "udevd" });
    await c.unary("ServiceRestart", { id: "udevd" });
    expect(f.backend.services.get("udevd")!.state).toBe("Running");
    expect(await code(c.unary("ServiceStart", { id: "nope" }))).toBe(grpc.status.NOT_FOUND);
    expect(await code(c.unary("ServiceRestart", { id: "nope" }))).toBe(grpc.status.NOT_FOUND);
  });

  test("Logs: tail lines; unknown id NOT_FOUND", async () => {
    const all = await c.collect("Logs", { id: "containerd", tail_lines: -1 });
    expect(all.map((d) => Buffer.from(d.bytes).toString())).toEqual(["containerd: started\n", "containerd: ready\n"]);
    const one = await c.collect("Logs", { id: "containerd", tail_lines: 1 });
    expect(one.length).toBe(1);
    expect(await code(c.collect("Logs", { id: "nope", tail_lines: -1 }))).toBe(grpc.status.NOT_FOUND);
  });

  test("Logs follow delivers a line written after the stream opened, and cancel unsubscribes", async () => {
    const ring = f.backend.services.get("containerd")!.ring;
    const s = c.stream("Logs", { id: "containerd", follow: true, tail_lines: 0 });
    const got: string[] = [];
    s.on("data", (d) => got.push(Buffer.from(d.bytes).toString()));
    s.on("error", () => {});
    await waitFor(() => ring.followerCount === 1);
    ring.push("written after open");
    await waitFor(() => got.length === 1);
    expect(got).toEqual(["written after open\n"]);
    s.cancel();
    await waitFor(() => ring.followerCount === 0);
  });

  test("Events: replay with tail, live events, payloads decode as Talos's, cancel unsubscribes", async () => {
    const s = c.stream("Events", { tail_events: -1 });
    const got: any[] = [];
    s.on("data", (e) => got.push(e));
    s.on("error", () => {});
    await waitFor(() => f.backend.listeners.size === 1);
    const before = f.backend.events.length;
    await waitFor(() => got.length === before); // the whole history, replayed
    await f.backend.restartService("containerd");
    await waitFor(() => got.length === before + 1);
    const e = got.at(-1);
    expect(e.data.type_url).toBe("talos/runtime/machine.ServiceStateEvent");
    expect(decode<any>("machine.ServiceStateEvent", e.data.value)).toMatchObject({ service: "containerd", action: "RUNNING" });
    expect(e.metadata.hostname).toBe("fake-node");
    s.cancel();
    await waitFor(() => f.backend.listeners.size === 0);
    // tail_events 0 replays nothing; tail 2 replays the last two
    const s2 = c.stream("Events", { tail_events: 2 });
    const got2: any[] = [];
    s2.on("data", (x) => got2.push(x));
    s2.on("error", () => {});
    await waitFor(() => got2.length === 2);
    expect(got2.map((x) => x.id)).toEqual(f.backend.events.slice(-2).map((x) => x.id));
    s2.cancel();
  });

  test("Events: replayed history carries each event's own time, not the time of sending", async () => {
    const then = new Date("2021-03-04T05:06:07.089Z");
    const old = f.backend.emit({ kind: "config", message: "applied long ago", ts: then } as NodeEvent);
    const recent = f.backend.emit({ kind: "phase", phase: "mounts", action: "stop" } as NodeEvent);
    const got = await new Promise<any[]>((res, rej) => {
      const s = c.stream("Events", { tail_events: 2 });
      const out: any[] = [];
      s.on("data", (e) => {
        out.push(e);
        if (out.length === 2) {
          s.cancel();
          res(out);
        }
      });
      s.on("error", (e) => (out.length < 2 ? rej(e) : undefined));
    });
    expect(got.map((e) => e.id)).toEqual([old.id, recent.id]);
    // minos field 1001 of machine.Event, decoded by a client built from the descriptors alone.
    expect(got[0].ts).toEqual({ seconds: Math.floor(then.getTime() / 1000), nanos: 89_000_000 });
    const ms = (t: { seconds: number; nanos: number }) => t.seconds * 1000 + Math.floor(t.nanos / 1e6);
    expect(ms(got[1].ts)).toBe(recent.ts.getTime());
  });

  test("Shutdown and Reboot reach the backend; a running sequence is FAILED_PRECONDITION", async () => {
    f.backend.powerActions.length = 0;
    await c.unary("Shutdown", { force: false });
    await c.unary("Reboot", { mode: "POWERCYCLE" });
    expect(f.backend.powerActions).toEqual(["poweroff", "reboot"]);
    f.backend.busy = true;
    try {
      const e = await c.unary("Shutdown").catch((x) => x);
      expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(e.details).toContain("sequence");
    } finally {
      f.backend.busy = false;
    }
  });

  test("ApplyConfiguration: bad YAML and unknown keys are INVALID_ARGUMENT and leave the config alone", async () => {
    const before = f.backend.config;
    const bad = await c.unary("ApplyConfiguration", { data: Buffer.from("machine: [unclosed"), mode: "NO_REBOOT" }).catch((x) => x);
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain("invalid YAML");
    const unknown = await c.unary("ApplyConfiguration", { data: Buffer.from("machine:\n  hostnme: x\n"), mode: "NO_REBOOT" }).catch((x) => x);
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(unknown.details).toContain("hostnme");
    expect(f.backend.config).toBe(before);
    // STAGED is a mode now (stored, applied at the next boot): the reply names it.
    expect((await c.unary("ApplyConfiguration", { data: Buffer.from("machine: {}\n"), mode: "STAGED" })).messages[0].mode).toBe("STAGED");
    f.backend.config = before;
    try {
      const ok = await c.unary("ApplyConfiguration", { data: Buffer.from("machine:\n  hostname: renamed\n"), mode: "NO_REBOOT" });
      expect(ok.messages[0]).toMatchObject({ mode: "NO_REBOOT", mode_details: "applied live: hostname" });
      expect(ok.messages[0].metadata.hostname).toBe("renamed");
    } finally {
      f.backend.host = "fake-node";
    }
  });

  test("a request over the message-size limit is refused and changes nothing", async () => {
    const before = f.backend.config;
    const huge = Buffer.alloc(5 * 1024 * 1024, 0x61);
    expect(await code(c.unary("ApplyConfiguration", { data: huge, mode: "NO_REBOOT" }))).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(f.backend.config).toBe(before);
  });

  test("List: hard links share an inode; recursion depth and type filters", async () => {
    const root = join(f.dir, "tree");
    mkdirSync(join(root, "sbin", "deep", "deeper"), { recursive: true });
    writeFileSync(join(root, "sbin", "init"), "x");
    for (const n of ["dashboard", "poweroff", "shutdown", "wrapperd"]) linkSync(join(root, "sbin", "init"), join(root, "sbin", n));
    const flat = await c.collect("List", { root: join(root, "sbin") });
    expect(flat[0].relative_name).toBe(".");
    const files = flat.filter((x) => !x.is_dir);
    expect(files.map((x) => x.relative_name)).toEqual(["dashboard", "init", "poweroff", "shutdown", "wrapperd"]);
    expect(new Set(files.map((x) => x.inode)).size).toBe(1);
    expect(files[0].nlink).toBe(5);
    const deep = await c.collect("List", { root, recurse: true, recursion_depth: 2 });
    expect(deep.map((x) => x.relative_name)).toContain("sbin/deep");
    expect(deep.map((x) => x.relative_name)).not.toContain("sbin/deep/deeper");
    const dirs = await c.collect("List", { root, recurse: true, types: ["DIRECTORY"] });
    expect(dirs.every((x) => x.is_dir)).toBe(true);
    expect(dirs.map((x) => x.relative_name)).toContain("sbin/deep/deeper");
    expect(await code(c.collect("List", { root: join(root, "missing") }))).toBe(grpc.status.NOT_FOUND);
  });

  test("Read streams a file; missing path NOT_FOUND; directory INVALID_ARGUMENT", async () => {
    const p = join(f.dir, "big.txt");
    const text = "0123456789".repeat(20_000); // 200 kB: several chunks
    writeFileSync(p, text);
    const chunks = await c.collect("Read", { path: p });
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks.map((d) => Buffer.from(d.bytes))).toString()).toBe(text);
    expect(await code(c.collect("Read", { path: join(f.dir, "nope") }))).toBe(grpc.status.NOT_FOUND);
    expect(await code(c.collect("Read", { path: f.dir }))).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test("system data calls read /proc", async () => {
    const mounts = (await c.unary("Mounts")).messages[0].stats;
    expect(mounts.some((m: any) => m.mounted_on === "/")).toBe(true);
    const mem = (await c.unary("Memory")).messages[0].meminfo;
    expect(mem.memtotal).toBeGreaterThan(0);
    expect(mem.memavailable).toBeGreaterThan(0);
    const load = (await c.unary("LoadAvg")).messages[0];
    expect(typeof load.load1).toBe("number");
    const stat = (await c.unary("SystemStat")).messages[0];
    expect(stat.boot_time).toBeGreaterThan(1_000_000_000);
    expect(stat.cpu.length).toBeGreaterThan(0);
    const cpus = (await c.unary("CPUInfo")).messages[0].cpu_info;
    expect(cpus.length).toBe(stat.cpu.length);
    const ps = (await c.unary("Processes")).messages[0].processes;
    const me = ps.find((p: any) => p.pid === process.pid);
    expect(me.resident_memory).toBeGreaterThan(0);
    const net = (await c.unary("NetworkDeviceStats")).messages[0];
    expect(net.devices.map((d: any) => d.name)).toContain("lo");
    const disks = (await c.unary("DiskStats")).messages[0];
    expect(disks.total.name).toBe("total");
  });

  test("a handler's unexpected exception is INTERNAL and the server lives on", async () => {
    const orig = f.backend.listServices;
    f.backend.listServices = () => {
      throw new Error("boom");
    };
    try {
      const e = await c.unary("ServiceList").catch((x) => x);
      expect(e.code).toBe(grpc.status.INTERNAL);
      expect(e.details).toBe("boom");
    } finally {
      f.backend.listServices = orig;
    }
    expect((await c.unary("Hostname")).messages[0].hostname).toBe("fake-node");
  });
});

describe("minos extensions", () => {
  test("schedule, read back and cancel a shutdown; Events announce it", async () => {
    const m = rawLocal(f, "minos.machine.MinosService");
    try {
      const at = Math.floor(Date.now() / 1000) + 300;
      await m.unary("ScheduleShutdown", { at: { seconds: at, nanos: 0 }, action: "REBOOT", message: "maintenance" });
      expect(f.backend.scheduled).toMatchObject({ action: "reboot", message: "maintenance" });
      expect(f.backend.scheduled!.at.getTime()).toBe(at * 1000);
      const s = (await m.unary("ScheduledShutdown")).messages[0];
      expect(s).toMatchObject({ scheduled: true, action: "REBOOT", message: "maintenance" });
      const ev = f.backend.events.at(-1)!;
      expect(ev.kind).toBe("shutdown-scheduled");
      const replayed = await new Promise<any>((res) => {
        const st = c.stream("Events", { tail_events: 1 });
        st.on("data", (e) => {
          res(e);
          st.cancel();
        });
        st.on("error", () => {});
      });
      expect(replayed.data.type_url).toBe("minos/runtime/minos.machine.ShutdownScheduledEvent");
      expect((await m.unary("CancelShutdown")).messages[0].cancelled).toBe(true);
      expect((await m.unary("CancelShutdown")).messages[0].cancelled).toBe(false);
      expect((await m.unary("ScheduledShutdown")).messages[0].scheduled).toBe(false);
      expect(Buffer.from((await m.unary("GetConfiguration")).messages[0].data).toString()).toBe(f.backend.config);
    } finally {
      m.close();
    }
  });
});

describe("health and reflection", () => {
  test("grpc.health.v1 Check says SERVING", async () => {
    const h = rawLocal(f, "grpc.health.v1.Health");
    try {
      expect((await h.unary("Check", { service: "" })).status).toBe("SERVING");
      expect((await h.unary("Check", { service: "machine.MachineService" })).status).toBe("SERVING");
      // Check on an unknown service is NOT_FOUND (grpc health protocol); Watch answers SERVICE_UNKNOWN.
      const e = await h.unary("Check", { service: "nope" }).catch((x) => x);
      expect(e.code).toBe(grpc.status.NOT_FOUND);
      expect(e.details).toContain('"nope"');
      const w = h.stream("Watch", { service: "nope" });
      w.on("error", () => {});
      const first = await new Promise<any>((res) => w.once("data", res));
      w.cancel();
      expect(first.status).toBe("SERVICE_UNKNOWN");
    } finally {
      h.close();
    }
  });

  for (const version of ["v1", "v1alpha"] as const) {
    test(`reflection ${version}: list services, fetch a file with its imports, build a working schema from it`, async () => {
      const r = rawLocal(f, `grpc.reflection.${version}.ServerReflection`);
      try {
        const call = (r.client as any).ServerReflectionInfo() as grpc.ClientDuplexStream<any, any>;
        const replies: any[] = [];
        call.on("data", (m) => replies.push(m));
        const ended = new Promise((res) => call.on("end", res));
        call.write({ list_services: "" });
        call.write({ file_containing_symbol: "machine.MachineService" });
        call.write({ file_containing_symbol: "no.Such" });
        call.end();
        await ended;
        expect(replies[0].list_services_response.service.map((s: any) => s.name)).toContain("machine.MachineService");
        const files = replies[1].file_descriptor_response.file_descriptor_proto as Uint8Array[];
        const descriptor = (await import("protobufjs/ext/descriptor")).default;
        const set = descriptor.FileDescriptorSet.create({ file: files.map((b) => descriptor.FileDescriptorProto.decode(b)) });
        expect(set.file.map((x: { name?: string | null }) => x.name)).toContain("common/common.proto");
        const root = (protobuf.Root as any).fromDescriptor(set) as protobuf.Root;
        expect(root.lookupService("machine.MachineService").methods.Logs!.responseStream).toBe(true);
        expect(replies[2].error_response.error_code).toBe(grpc.status.NOT_FOUND);
      } finally {
        r.close();
      }
    });
  }
});

describe("config redaction", () => {
  const key = Buffer.from("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").toString("base64");

  test("a copy of the key through an alias or inside another value is hidden too; the anchor stays valid", () => {
    const text = `machine:\n  ca:\n    key: &k ${key}\n  env:\n    COPY: *k\n  files:\n    - path: /etc/x\n      content: "before ${key} after"\n`;
    const out = redactConfig(text);
    expect(out).not.toContain(key);
    expect(out).toContain("key: &k REDACTED");
    expect(out).toContain("COPY: *k");
    expect(out).toContain("content: REDACTED");
    // The path to the key itself may run through an alias.
    const viaAlias = redactConfig(`base: &ca\n  key: ${key}\nmachine:\n  ca: *ca\n`);
    expect(viaAlias).not.toContain(key);
    expect(viaAlias).toContain("key: REDACTED");
  });

  test("a config without a key comes back unchanged; YAML that does not parse is refused, never passed through", () => {
    const plain = "version: v1alpha1 # comment\nmachine:\n  hostname: n\n";
    expect(redactConfig(plain)).toBe(plain);
    expect(() => redactConfig(`machine:\n  ca:\n    key: ${key}\n  bad: [\n`)).toThrow(/does not parse/);
  });
});

describe("mutual TLS and roles", () => {
  test("reader reads but may not Shutdown, Reboot, ApplyConfiguration, restart services or read /system/state", async () => {
    const r = rawRemote(f, certFor(f, "os:reader"));
    try {
      expect((await r.unary("Hostname")).messages[0].hostname).toBe("fake-node");
      expect((await r.unary("ServiceList")).messages[0].services.length).toBe(3);
      f.backend.powerActions.length = 0;
      for (const [m, req] of [
        ["Shutdown", {}],
        ["Reboot", {}],
        ["ApplyConfiguration", { data: Buffer.from("machine: {}\n") }],
        ["ServiceRestart", { id: "containerd" }],
        ["ServiceStop", { id: "containerd" }],
        ["ServiceStart", { id: "containerd" }],
      ] as const) {
        const e = await r.unary(m, req).catch((x) => x);
        expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
        expect(e.details).toContain("os:reader");
      }
      expect(f.backend.powerActions).toEqual([]);
      expect(await code(r.collect("Read", { path: "/system/state/config.yaml" }))).toBe(grpc.status.PERMISSION_DENIED);
      expect(await code(r.collect("Read", { path: "/system/../system/state/config.yaml" }))).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      r.close();
    }
  });

  test("every method the server registers has an explicit role; an unlisted path needs os:admin", () => {
    const paths = SERVED_SERVICES.flatMap((svc) => serviceMethods(svc).map((m) => m.path));
    expect(paths.length).toBeGreaterThan(25);
    expect(paths.filter((p) => listedRole(p) === undefined)).toEqual([]);
    // Health and reflection describe the API: any role may use them.
    for (const p of paths.filter((x) => x.startsWith("/grpc."))) expect(listedRole(p)).toBe("os:reader");
    expect(requiredRole("/machine.MachineService/NotYetDecided")).toBe("os:admin");
    expect(requiredRole("/machine.MachineService/ApplyConfiguration")).toBe("os:admin");
  });

  describe("Read below the state directory", () => {
    // A second server over the same CA whose state directory is a temp dir,
    // with a secret in it and links into it from outside.
    let g: ApiFixture;
    let stateDir: string;
    let api: MachineApi;
    beforeAll(async () => {
      const base = join(f.dir, "state-read");
      stateDir = join(base, "state");
      mkdirSync(join(base, "run"), { recursive: true });
      mkdirSync(stateDir);
      writeFileSync(join(stateDir, "config.yaml"), "machine:\n  ca:\n    key: SECRET\n");
      writeFileSync(join(base, "public.txt"), "public\n");
      symlinkSync(join(stateDir, "config.yaml"), join(base, "to-secret"));
      symlinkSync(stateDir, join(base, "to-state"));
      const socketPath = join(base, "run", "machine.sock");
      api = await startMachineApi(new FakeBackend(), { socketPath, tcpPort: 0, tcpHost: "127.0.0.1", ca: f.ca, stateDir });
      g = { ...f, dir: base, socketPath, tcpPort: api.tcpPort!, api };
    });
    afterAll(async () => {
      await api.close();
    });
    const text = async (client: RawClient, path: string) => Buffer.concat((await client.collect("Read", { path })).map((d) => Buffer.from(d.bytes))).toString();

    test("a reader is denied the state directory directly, through a symlink to a file or to the directory, and device nodes", async () => {
      const r = rawRemote(g, certFor(g, "os:reader"));
      try {
        // Read is os:admin only, as in Talos (issue 18): even a public file is refused to a reader.
        expect(await code(r.collect("Read", { path: join(g.dir, "public.txt") }))).toBe(grpc.status.PERMISSION_DENIED);
        for (const path of [
          join(stateDir, "config.yaml"),
          join(stateDir, "nope"),
          join(g.dir, "to-secret"),
          join(g.dir, "to-state", "config.yaml"),
          "/dev/null",
          "/dev/zero",
        ]) {
          const e = await r.collect("Read", { path }).catch((x) => x);
          expect([path, e.code]).toEqual([path, grpc.status.PERMISSION_DENIED]);
          expect(e.details).toContain("os:reader");
        }
        // Operators are not admins either.
        const o = rawRemote(g, certFor(g, "os:operator"));
        try {
          expect(await code(o.collect("Read", { path: join(g.dir, "to-secret") }))).toBe(grpc.status.PERMISSION_DENIED);
        } finally {
          o.close();
        }
      } finally {
        r.close();
      }
    });

    test("an admin, and the local socket, read through the same links", async () => {
      const a = rawRemote(g, certFor(g, "os:admin"));
      const local = rawLocal(g);
      try {
        for (const client of [a, local]) {
          expect(await text(client, join(g.dir, "to-secret"))).toContain("SECRET");
          expect(await text(client, join(g.dir, "to-state", "config.yaml"))).toContain("SECRET");
          expect(await text(client, "/dev/null")).toBe("");
        }
      } finally {
        a.close();
        local.close();
      }
    });
  });

  test("operator may Shutdown, Reboot and restart services, not ApplyConfiguration", async () => {
    const cert = certFor(f, "os:operator");
    const r = rawRemote(f, cert);
    const m = rawRemote(f, cert, "minos.machine.MinosService");
    try {
      f.backend.powerActions.length = 0;
      await r.unary("Shutdown", {});
      await r.unary("Reboot", {});
      await r.unary("ServiceRestart", { id: "containerd" });
      expect(f.backend.powerActions).toEqual(["poweroff", "reboot"]);
      expect(await code(r.unary("ApplyConfiguration", { data: Buffer.from("machine: {}\n") }))).toBe(grpc.status.PERMISSION_DENIED);
      await m.unary("CancelShutdown", {});
    } finally {
      r.close();
      m.close();
    }
  });

  test("GetConfiguration: every role reads the config; only admins (and the local socket) see machine.ca.key", async () => {
    const key = Buffer.from("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n").toString("base64");
    const crt = Buffer.from("-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n").toString("base64");
    const saved = f.backend.config;
    f.backend.config = `version: v1alpha1\n# the node's CA\nmachine:\n  hostname: fake-node\n  ca:\n    crt: ${crt}\n    key: ${key}\n`;
    const getConfig = async (client: RawClient) => Buffer.from((await client.unary("GetConfiguration", {})).messages[0].data).toString("utf8");
    try {
      for (const role of ["os:reader", "os:operator"]) {
        const m = rawRemote(f, certFor(f, role), "minos.machine.MinosService");
        try {
          const text = await getConfig(m);
          expect(text).not.toContain(key);
          // Only the key changes: same layout, comments and certificate as the admin sees.
          expect(text).toBe(f.backend.config.replace(key, "REDACTED"));
        } finally {
          m.close();
        }
      }
      const admin = rawRemote(f, certFor(f, "os:admin"), "minos.machine.MinosService");
      const local = rawLocal(f, "minos.machine.MinosService");
      try {
        expect(await getConfig(admin)).toBe(f.backend.config);
        expect(await getConfig(local)).toBe(f.backend.config);
      } finally {
        admin.close();
        local.close();
      }
    } finally {
      f.backend.config = saved;
    }
  });

  test("admin may ApplyConfiguration", async () => {
    const r = rawRemote(f, certFor(f, "os:admin"));
    try {
      const ok = await r.unary("ApplyConfiguration", { data: Buffer.from("machine:\n  hostname: fake-node\n"), mode: "NO_REBOOT" });
      expect(ok.messages[0].mode).toBe("NO_REBOOT");
    } finally {
      r.close();
    }
  });

  test("no client certificate, or one from another CA, is refused; a certificate without a role is denied", async () => {
    const none = rawRemote(f, undefined);
    const foreignCa = generateCa("other");
    const foreign = rawRemote(f, issueClientCert(foreignCa, "os:admin"));
    const noRole = rawRemote(f, issueClientCert(f.ca, "acme-corp"));
    try {
      expect(await code(none.unary("Hostname"))).toBe(grpc.status.UNAVAILABLE);
      expect(await code(foreign.unary("Hostname"))).toBe(grpc.status.UNAVAILABLE);
      expect(await code(noRole.unary("Hostname"))).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      none.close();
      foreign.close();
      noRole.close();
    }
  });
});
