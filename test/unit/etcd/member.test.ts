// The member controller without a running etcd: it waits (with the reason,
// never starting a cluster of its own) until Bootstrap, refuses Bootstrap twice
// or with data present, and rejoins as itself when it has data.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa } from "../../../src/api/pki/certs.ts";
import { EtcdMember } from "../../../src/etcd/member.ts";

const dir = mkdtempSync(join(tmpdir(), "etcd-member-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = generateCa("etcd", 30, { algorithm: "ecdsa-p256", organizations: ["etcd"] });

function member(name: string, found: () => Promise<{ clientURLs: string[] } | { reason: string }>) {
  return new EtcdMember(
    {
      hostname: name,
      ca,
      image: "x",
      extraArgs: {},
      advertisedSubnets: [],
      listenSubnets: [],
      dataDir: join(dir, name, "data"),
      secretsDir: join(dir, name, "secrets"),
    },
    { addresses: () => ["10.9.0.5"], findMembers: found, log: () => {} },
  );
}

const arg = (args: string[], k: string) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);

describe("EtcdMember", () => {
  test("no member reachable: Waiting with the reason, retried; Bootstrap then starts a one-member cluster", async () => {
    let asked = 0;
    const m = member("a", async () => {
      asked++;
      return { reason: "10.9.0.1: connection refused" };
    });
    const reasons: string[] = [];
    const ac = new AbortController();
    const p = m.prepare({ signal: ac.signal, waiting: (r) => reasons.push(r) });
    await Bun.sleep(1500);
    expect(reasons[0]).toBe("waiting for Bootstrap or for a member to join through: 10.9.0.1: connection refused");
    expect(asked).toBeGreaterThanOrEqual(2); // retried after the first backoff
    m.requestBootstrap();
    const spec = await p;
    expect(arg(spec.args, "initial-cluster-state")).toBe("new");
    expect(arg(spec.args, "initial-cluster")).toBe("a=https://10.9.0.5:2380");
    expect(() => m.requestBootstrap()).toThrow(/already bootstrapped/);
  }, 10_000);

  test("a node with etcd data: Bootstrap refused, and it starts as the member it was", async () => {
    const m = member("b", async () => ({ reason: "unused" }));
    mkdirSync(join(dir, "b", "data", "member"), { recursive: true });
    writeFileSync(join(dir, "b", "data", "member", "x"), "");
    expect(() => m.requestBootstrap()).toThrow(/is not empty/);
    const spec = await m.prepare({ signal: new AbortController().signal, waiting: () => {} });
    expect(arg(spec.args, "initial-cluster-state")).toBe("existing");
  });

  test("stopped while waiting: the start ends, nothing bootstrapped", async () => {
    const m = member("c", async () => ({ reason: "nobody" }));
    const ac = new AbortController();
    const p = m.prepare({ signal: ac.signal, waiting: () => {} });
    await Bun.sleep(100);
    ac.abort();
    await expect(p).rejects.toThrow(/stopped/);
  });
});
