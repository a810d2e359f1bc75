// The member controller without a running etcd: it waits (with the reason,
// never starting a cluster of its own) until Bootstrap, refuses Bootstrap twice
// or with data present, and rejoins as itself when it has data.
import { afterAll, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  test("the peer and server certificates' SANs follow the node's addresses: reissued (atomically, same files) when they change, not otherwise", async () => {
    let addrs = ["10.9.0.5"];
    const logs: string[] = [];
    const secrets = join(dir, "d", "secrets");
    const m = new EtcdMember(
      { hostname: "d", ca, image: "x", extraArgs: {}, advertisedSubnets: [], listenSubnets: [], dataDir: join(dir, "d", "data"), secretsDir: secrets },
      { addresses: () => addrs, findMembers: async () => ({ reason: "unused" }), log: (l) => logs.push(l) },
    );
    const sans = (file: string) => new X509Certificate(readFileSync(join(secrets, file))).subjectAltName ?? "";
    const spec = m.prepare({ signal: new AbortController().signal, waiting: () => {} });
    m.requestBootstrap();
    await spec;
    for (const f of ["peer.crt", "server.crt"]) expect(sans(f)).toContain("IP Address:10.9.0.5");
    const first = readFileSync(join(secrets, "server.crt"), "utf8");
    expect(m.refreshCerts()).toBe(false);
    expect(readFileSync(join(secrets, "server.crt"), "utf8")).toBe(first);
    // A new DHCP lease: another address.
    addrs = ["10.9.0.77"];
    expect(m.refreshCerts()).toBe(true);
    for (const f of ["peer.crt", "server.crt"]) {
      expect(sans(f)).toContain("IP Address:10.9.0.77");
      expect(sans(f)).not.toContain("IP Address:10.9.0.5");
      expect(sans(f)).toContain("IP Address:127.0.0.1");
    }
    // The key still matches its certificate, and no temporary file is left behind.
    const key = createPrivateKey(readFileSync(join(secrets, "server.key")));
    expect(new X509Certificate(readFileSync(join(secrets, "server.crt"))).checkPrivateKey(key)).toBe(true);
    expect(readdirSync(secrets).filter((f) => f.startsWith(".")).length).toBe(0);
    expect(logs.some((l) => l === "etcd: node addresses changed (10.9.0.5 -> 10.9.0.77): peer and server certificates reissued")).toBe(true);
    expect(m.tls().cert).toBe(readFileSync(join(secrets, "admin.crt"), "utf8"));
    expect(m.refreshCerts()).toBe(false);
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
