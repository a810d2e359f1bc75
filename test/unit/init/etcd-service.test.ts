// The etcd service's prepare step: the image first — while it cannot be had
// the service is Waiting with the registry's error and tries again with
// backoff, never adding itself to a cluster meanwhile; a reference that can
// never work fails the start — then the member controller's spec becomes the
// container of this run, its directories given to the etcd user.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa } from "../../../src/api/pki/certs.ts";
import { EtcdMember } from "../../../src/etcd/member.ts";
import { EtcdImageError, etcdServiceSpec } from "../../../src/init/etcd/service.ts";

const dir = mkdtempSync(join(tmpdir(), "etcd-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = generateCa("etcd", 30, { algorithm: "ecdsa-p256", organizations: ["etcd"] });
const IMAGE = "registry.example/etcd:v3.5.13";

function setup(name: string, fetchImage: (image: string) => Promise<void>) {
  let asked = 0;
  const member = new EtcdMember(
    {
      hostname: name,
      ca,
      image: IMAGE,
      extraArgs: {},
      advertisedSubnets: [],
      listenSubnets: [],
      dataDir: join(dir, name, "data"),
      secretsDir: join(dir, name, "secrets"),
    },
    {
      addresses: () => ["10.9.0.5"],
      findMembers: async () => {
        asked++;
        return { reason: "nobody yet" };
      },
      log: () => {},
    },
  );
  const chowned: string[] = [];
  const spec = etcdServiceSpec(member, { image: IMAGE, env: ["K=v"], fetchImage, chown: (p) => chowned.push(p) });
  return { member, spec, chowned, asked: () => asked };
}

describe("etcd's prepare step", () => {
  test("the image cannot be pulled: Waiting with the registry's error, retried with backoff, no cluster asked; then it runs", async () => {
    let attempts = 0;
    const s = setup("a", async () => {
      attempts++;
      if (attempts < 3) throw new EtcdImageError("registry.example: dial tcp: connection refused", true);
    });
    const reasons: string[] = [];
    s.member.requestBootstrap();
    const t0 = Date.now();
    await s.spec.prepare!({ signal: new AbortController().signal, waiting: (r) => reasons.push(r) });
    expect(attempts).toBe(3);
    expect(reasons).toEqual([
      `image ${IMAGE}: registry.example: dial tcp: connection refused; retry in 1000 ms`,
      `image ${IMAGE}: registry.example: dial tcp: connection refused; retry in 2000 ms`,
    ]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
    expect(s.spec.container?.image).toBe(IMAGE);
    expect(s.spec.container?.args?.[0]).toBe("/usr/local/bin/etcd");
    expect(s.spec.container?.args).toContain("--initial-cluster-state=new");
    expect(s.spec.container?.env[0]).toBe("K=v");
    expect(s.chowned).toEqual([join(dir, "a", "data"), join(dir, "a", "secrets")]);
  }, 10_000);

  test("while the image is missing the node never looks for members to join (it would add a learner it cannot run)", async () => {
    const s = setup("b", async () => {
      throw new EtcdImageError("404 Not Found", true);
    });
    const ac = new AbortController();
    const p = s.spec.prepare!({ signal: ac.signal, waiting: () => {} });
    await Bun.sleep(1200);
    expect(s.asked()).toBe(0);
    expect(s.spec.container).toBeUndefined();
    ac.abort();
    await expect(p).rejects.toThrow(/stopped/);
  });

  test("a reference that can never be pulled fails the start at once", async () => {
    const s = setup("c", async () => {
      throw new EtcdImageError('invalid reference "Bad Ref::1"', false);
    });
    const reasons: string[] = [];
    await expect(s.spec.prepare!({ signal: new AbortController().signal, waiting: (r) => reasons.push(r) })).rejects.toThrow(/invalid reference/);
    expect(reasons).toEqual([]);
  });
});
