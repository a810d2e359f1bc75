// Issue 18 item 9: Read follows Talos's role table (os:admin only). A reader
// got the stored config's CA key through a hard link planted outside the
// state directory, and a service's environment (machine.env's proxy
// password) through /proc/<pid>/environ; both, and every other Read, are
// refused to os:reader and os:operator, while admins and the node socket read.
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { linkSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requiredRole } from "../../../src/api/auth.ts";
import { type MachineApi, startMachineApi } from "../../../src/api/server.ts";
import { type ApiFixture, certFor, FakeBackend, type RawClient, rawLocal, rawRemote, startFixture } from "../../helpers/fake-backend.ts";

let f: ApiFixture;
let g: ApiFixture;
let api: MachineApi;
let child: ReturnType<typeof Bun.spawn>;
let stateDir: string;
const SECRET = `SECRET-${process.pid}`;
const PROXY = `http://user:pw-${process.pid}@proxy`;

beforeAll(async () => {
  f = await startFixture();
  const base = join(f.dir, "hardlink");
  stateDir = join(base, "state");
  mkdirSync(join(base, "run"), { recursive: true });
  mkdirSync(stateDir);
  writeFileSync(join(stateDir, "config.yaml"), `machine:\n  ca:\n    key: ${SECRET}\n`);
  linkSync(join(stateDir, "config.yaml"), join(base, "planted")); // same inode, outside the state directory
  const socketPath = join(base, "run", "machine.sock");
  api = await startMachineApi(new FakeBackend(), { socketPath, tcpPort: 0, tcpHost: "127.0.0.1", ca: f.ca, stateDir });
  g = { ...f, dir: base, socketPath, tcpPort: api.tcpPort!, api };
  // A "service" with a secret in its environment.
  child = Bun.spawn(["sleep", "60"], { env: { HTTPS_PROXY: PROXY } });
});
afterAll(async () => {
  child?.kill();
  await api?.close();
  await f?.close();
});

const text = async (c: RawClient, path: string) => Buffer.concat((await c.collect("Read", { path })).map((d) => Buffer.from(d.bytes))).toString();
const refusal = async (c: RawClient, path: string) => {
  const e = await c.collect("Read", { path }).then(
    () => undefined,
    (x: grpc.ServiceError) => x,
  );
  return e && { code: e.code, details: e.details };
};

test("Read needs os:admin, as in Talos; List stays open to readers", () => {
  expect(requiredRole("/machine.MachineService/Read")).toBe("os:admin");
  expect(requiredRole("/machine.MachineService/List")).toBe("os:reader");
});

test("a reader and an operator get neither the CA key through a hard link nor a service's environ", async () => {
  for (const role of ["os:reader", "os:operator"]) {
    const r = rawRemote(g, certFor(g, role));
    try {
      for (const path of [join(g.dir, "planted"), `/proc/${child.pid}/environ`, "/etc/hostname"]) {
        const e = await refusal(r, path);
        expect([path, e?.code]).toEqual([path, grpc.status.PERMISSION_DENIED]);
        expect(e?.details).toContain("needs os:admin");
      }
      // List (names and sizes only) is still theirs.
      expect((await r.collect("List", { root: g.dir })).length).toBeGreaterThan(1);
    } finally {
      r.close();
    }
  }
});

test("an admin and the node socket read both", async () => {
  const a = rawRemote(g, certFor(g, "os:admin"));
  const local = rawLocal(g);
  try {
    for (const c of [a, local]) {
      expect(await text(c, join(g.dir, "planted"))).toContain(SECRET);
      expect(await text(c, `/proc/${child.pid}/environ`)).toContain(PROXY);
    }
  } finally {
    a.close();
    local.close();
  }
});
