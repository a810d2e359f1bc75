// minos's etcd client against a real etcd 3.4 (Debian's etcd-server) on
// loopback, peer and client TLS on with certificates issued from an etcd CA
// the way a control-plane node issues them: put/get, member list/add
// (learner)/remove, status, alarms, defragment, snapshot, move-leader refused
// on a one-member cluster; and the spec builder's flags are ones etcd accepts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa } from "../../../src/api/pki/certs.ts";
import { issueEtcdCerts, writeEtcdCerts } from "../../../src/etcd/certs.ts";
import { EtcdClient } from "../../../src/etcd/client.ts";
import { etcdRunSpec } from "../../../src/etcd/service.ts";
import { etcdPath } from "../../helpers/etcd.ts";

let dir: string;
let etcd: ChildProcess | undefined;
let client: EtcdClient;
const out: string[] = [];
// A port pair of our own on loopback (not 2379/2380: a parallel run or the host may use those).
const base = 20000 + (process.pid % 20000);
const CLIENT = base;
const PEER = base + 1;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "etcd-client-"));
  const ca = generateCa("etcd", 30, { algorithm: "ecdsa-p256", organizations: ["etcd"] });
  const certs = issueEtcdCerts(ca, "node-1", ["127.0.0.1"]);
  writeEtcdCerts(certs, join(dir, "secrets"));
  const spec = etcdRunSpec({
    name: "node-1",
    addresses: { advertised: ["127.0.0.1"], listen: ["127.0.0.1"] },
    initialCluster: [{ name: "node-1", peerURL: `https://127.0.0.1:${PEER}` }],
    state: "new",
    image: "unused",
    // The spec's own ports are 2379/2380; the test moves them with extraArgs, as an operator could.
    extraArgs: {
      "listen-client-urls": `https://127.0.0.1:${CLIENT}`,
      "advertise-client-urls": `https://127.0.0.1:${CLIENT}`,
      "listen-peer-urls": `https://127.0.0.1:${PEER}`,
      "initial-advertise-peer-urls": `https://127.0.0.1:${PEER}`,
    },
    secretsDir: join(dir, "secrets"),
    dataDir: join(dir, "data"),
  });
  etcd = spawn(etcdPath(), spec.args, { stdio: ["ignore", "pipe", "pipe"] });
  etcd.stdout!.on("data", (d) => out.push(String(d)));
  etcd.stderr!.on("data", (d) => out.push(String(d)));
  client = new EtcdClient({ endpoints: [`https://127.0.0.1:${CLIENT}`], tls: { ca: certs.ca, cert: certs.admin.cert, key: certs.admin.key } });
  for (let i = 0; i < 100; i++) {
    try {
      await client.status();
      return;
    } catch {
      await Bun.sleep(100);
    }
  }
  throw new Error(`etcd did not come up:\n${out.join("").slice(-3000)}`);
}, 30_000);

afterAll(() => {
  etcd?.kill("SIGKILL");
  client?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("etcd client over minos's HTTP/2 transport", () => {
  test("put, get, range by prefix", async () => {
    for (let i = 0; i < 20; i++) await client.put(`/k/${i}`, `v${i}`);
    expect((await client.get("/k/7"))?.toString()).toBe("v7");
    expect(await client.get("/missing")).toBeUndefined();
    expect((await client.range("/k/", { countOnly: true })).count).toBe(20);
  });

  test("member list, learner add and remove keep exact 64-bit ids", async () => {
    const { members } = await client.memberList();
    expect(members.length).toBe(1);
    expect(members[0]!.name).toBe("node-1");
    expect(BigInt(members[0]!.ID) > 0n).toBe(true);
    const added = await client.memberAdd([`https://127.0.0.2:${PEER}`], true);
    expect(added.member.isLearner).toBe(true);
    expect(added.members.length).toBe(2);
    const after = await client.memberRemove(added.member.ID);
    expect(after.map((m) => m.ID)).toEqual([members[0]!.ID]);
  });

  test("status, alarms, defragment", async () => {
    const st = await client.status();
    expect(st.version).toMatch(/^3\.4\./);
    expect(st.leader).toBe(st.header.member_id);
    expect(Number(st.dbSize)).toBeGreaterThan(0);
    expect(await client.alarms()).toEqual([]);
    await client.defragment();
  });

  test("snapshot streams the whole database", async () => {
    let bytes = 0;
    for await (const chunk of client.snapshot()) bytes += chunk.length;
    expect(bytes).toBeGreaterThan(16 * 1024);
  });

  test("an unreachable endpoint fails over to the next", async () => {
    const c = new EtcdClient({
      endpoints: ["https://127.0.0.1:1", `https://127.0.0.1:${CLIENT}`],
      tls: (client as unknown as { opts: { tls: never } }).opts.tls,
    });
    expect((await c.get("/k/3"))?.toString()).toBe("v3");
    c.close();
  });
});
