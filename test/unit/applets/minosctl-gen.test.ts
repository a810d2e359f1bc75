// minosctl's offline config work: gen secrets / gen config write what Talos's
// talosctl writes and minos's own parser accepts with zero errors, patches
// applied; validate's exit codes; and patch machineconfig against the
// in-process API (get -> patch -> apply; a patch that does not apply names
// its operation and nothing is sent).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { main } from "../../../src/applets/minosctl/main.ts";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { startFixture, type ApiFixture } from "../../helpers/fake-backend.ts";

let f: ApiFixture;
let dir: string;

beforeAll(async () => {
  f = await startFixture();
  dir = join(f.dir, "gen");
  mkdirSync(dir);
});
afterAll(async () => {
  await f.close();
});

async function ctl(...args: string[]) {
  const io = captureIo({ HOME: dir });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const pem = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
type Doc = Record<string, any>;
const read = (p: string): Doc => parse(readFileSync(p, "utf8"));

describe("gen secrets", () => {
  test("CAs, keys and tokens in Talos's formats", async () => {
    const path = join(dir, "secrets.yaml");
    expect((await ctl("gen", "secrets", "-o", path)).code).toBe(0);
    const s = read(path);
    expect(s.secrets.bootstraptoken).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(s.trustdinfo.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    for (const v of [s.cluster.id, s.cluster.secret, s.secrets.secretboxencryptionsecret]) expect(Buffer.from(v, "base64")).toHaveLength(32);
    // Machine (OS API) CA: Ed25519; etcd, Kubernetes, aggregator CAs and the service account key: ECDSA P-256.
    const os = new X509Certificate(pem(s.certs.os.crt));
    expect(os.ca).toBe(true);
    expect(os.publicKey.asymmetricKeyType).toBe("ed25519");
    expect(os.subject).toContain("O=talos");
    for (const [name, org] of [
      ["etcd", "etcd"],
      ["k8s", "kubernetes"],
      ["k8saggregator", undefined],
    ] as const) {
      const c = new X509Certificate(pem(s.certs[name].crt));
      expect(c.ca).toBe(true);
      expect(c.publicKey.asymmetricKeyType).toBe("ec");
      expect(c.verify(c.publicKey)).toBe(true);
      if (org) expect(c.subject).toContain(`O=${org}`);
      expect(pem(s.certs[name].key)).toStartWith("-----BEGIN EC PRIVATE KEY-----");
    }
    expect(pem(s.certs.k8sserviceaccount.key)).toStartWith("-----BEGIN EC PRIVATE KEY-----");
    // An existing file is not overwritten without --force.
    expect((await ctl("gen", "secrets", "-o", path)).code).toBe(2);
    expect((await ctl("gen", "secrets", "-o", path, "--force")).code).toBe(0);
  });
});

describe("gen config", () => {
  test("controlplane.yaml and worker.yaml are accepted with zero errors; worker holds no CA keys", async () => {
    const out = join(dir, "plain");
    const r = await ctl("gen", "config", "demo", "https://10.5.0.2:6443", "--output-dir", out);
    expect(r.code).toBe(0);
    expect(r.out).toBe(["controlplane.yaml", "worker.yaml", "talosconfig"].map((n) => `created ${join(out, n)}\n`).join(""));
    const cp = parseConfigDocuments(readFileSync(join(out, "controlplane.yaml")));
    const wk = parseConfigDocuments(readFileSync(join(out, "worker.yaml")));
    expect(cp.warnings.length).toBeGreaterThan(0); // Talos keys minos accepts without applying (listed, not errors)
    const c = read(join(out, "controlplane.yaml"));
    const w = read(join(out, "worker.yaml"));
    expect(c.machine.type).toBe("controlplane");
    expect(w.machine.type).toBe("worker");
    expect(c.cluster.controlPlane.endpoint).toBe("https://10.5.0.2:6443");
    expect(c.cluster.clusterName).toBe("demo");
    expect(c.cluster.apiServer.certSANs).toEqual(["10.5.0.2"]);
    expect(c.machine.token).toBe(w.machine.token);
    expect(c.cluster.token).toBe(w.cluster.token);
    expect(w.machine.ca.key).toBe("");
    expect(w.cluster.ca.key).toBe("");
    expect(w.cluster.etcd).toBeUndefined();
    expect(pem(c.machine.ca.key)).toContain("PRIVATE KEY");
    expect(wk.config.machine).toBeDefined();
    // The talosconfig: context NAME, an os:admin certificate from the machine CA.
    const t = read(join(out, "talosconfig"));
    expect(t.context).toBe("demo");
    const ctx = t.contexts.demo;
    expect(ctx.endpoints).toEqual(["127.0.0.1"]);
    expect(ctx.ca).toBe(c.machine.ca.crt);
    const admin = new X509Certificate(pem(ctx.crt));
    expect(admin.subject).toContain("O=os:admin");
    expect(admin.verify(new X509Certificate(pem(ctx.ca)).publicKey)).toBe(true);
  });

  test("--with-secrets reuses a bundle; --config-patch for both, -control-plane and -worker for one", async () => {
    const secrets = join(dir, "bundle.yaml");
    await ctl("gen", "secrets", "-o", secrets);
    const out = join(dir, "patched");
    writeFileSync(join(dir, "cp.yaml"), "machine:\n  network:\n    hostname: cp-1\n");
    const r = await ctl(
      "gen",
      "config",
      "demo",
      "https://cp.example:6443",
      "--output-dir",
      out,
      "--with-secrets",
      secrets,
      "--config-patch",
      "machine:\n  sysctls:\n    net.ipv4.ip_forward: '1'\n",
      "--config-patch-control-plane",
      `@${join(dir, "cp.yaml")}`,
      "--config-patch-worker",
      '[{"op":"add","path":"/machine/network/hostname","value":"w-1"}]',
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const c = read(join(out, "controlplane.yaml"));
    const w = read(join(out, "worker.yaml"));
    const s = read(secrets);
    expect(c.machine.ca.crt).toBe(s.certs.os.crt);
    expect(c.cluster.etcd.ca.crt).toBe(s.certs.etcd.crt);
    expect(c.cluster.token).toBe(s.secrets.bootstraptoken);
    expect(c.machine.sysctls).toEqual({ "net.ipv4.ip_forward": "1" });
    expect(w.machine.sysctls).toEqual({ "net.ipv4.ip_forward": "1" });
    expect(c.machine.network.hostname).toBe("cp-1");
    expect(w.machine.network.hostname).toBe("w-1");
    parseConfigDocuments(readFileSync(join(out, "controlplane.yaml")));
    parseConfigDocuments(readFileSync(join(out, "worker.yaml")));
  });

  test("a patch that breaks the config or does not apply: an error, and no file written", async () => {
    const out = join(dir, "broken");
    const bad = await ctl("gen", "config", "demo", "https://x:6443", "--output-dir", out, "--config-patch", "machine:\n  colour: blue\n");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("machine.colour");
    const op = await ctl("gen", "config", "demo", "https://x:6443", "--output-dir", out, "--config-patch", '[{"op":"remove","path":"/machine/nope"}]');
    expect(op.code).toBe(1);
    expect(op.err).toContain("JSON patch operation 0 (remove /machine/nope)");
    expect(existsSync(join(out, "controlplane.yaml"))).toBe(false);
    expect((await ctl("gen", "config", "demo", "http://x:6443")).code).toBe(2);
  });
});

describe("validate", () => {
  test("exit 0 with warnings for accepted-only keys, 1 with the path for errors, 2 for a bad mode", async () => {
    const good = join(dir, "good.yaml");
    writeFileSync(good, "version: v1alpha1\nmachine:\n  type: worker\n  token: abc.def\n  network:\n    hostname: n1\n");
    const ok = await ctl("validate", "--config", good, "--mode", "container");
    expect(ok.code).toBe(0);
    expect(ok.out).toBe(`${good} is valid for container mode\n`);
    // machine.type is applied (etcd on control planes); machine.token is still accepted only.
    expect(ok.err).toContain("warning: machine.token: accepted, not applied");
    expect((await ctl("validate", "--config", good, "--strict")).code).toBe(1);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "version: v1alpha1\nmachine:\n  network:\n    hostname: 7\n  colour: blue\n");
    const r = await ctl("validate", "-c", bad, "-m", "metal");
    expect(r.code).toBe(1);
    expect(r.err).toContain("machine.colour");
    expect((await ctl("validate", "--config", good, "--mode", "vm")).code).toBe(2);
    expect((await ctl("validate")).code).toBe(2);
  });
});

describe("patch machineconfig", () => {
  const node = () => ["-e", `unix:${f.socketPath}`];

  test("a strategic patch and a JSON patch reach the node's config", async () => {
    f.backend.config = "version: v1alpha1\nmachine:\n  sysctls:\n    a.b: '1'\n";
    const r = await ctl(...node(), "patch", "machineconfig", "--patch", "machine:\n  sysctls:\n    c.d: '2'\n", "--mode", "no-reboot");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(parse(f.backend.config).machine.sysctls).toEqual({ "a.b": "1", "c.d": "2" });
    const patchFile = join(dir, "json.yaml");
    writeFileSync(patchFile, "- op: remove\n  path: /machine/sysctls/a.b\n");
    expect((await ctl(...node(), "patch", "machineconfig", "-p", `@${patchFile}`, "-m", "no-reboot")).code).toBe(0);
    expect(parse(f.backend.config).machine.sysctls).toEqual({ "c.d": "2" });
  });

  test("a patch that does not apply names the operation; the stored config is untouched", async () => {
    f.backend.config = "version: v1alpha1\nmachine:\n  sysctls:\n    a.b: '1'\n";
    const before = f.backend.config;
    const r = await ctl(...node(), "patch", "machineconfig", "--patch", '[{"op":"test","path":"/machine/sysctls/a.b","value":"9"}]');
    expect(r.code).toBe(1);
    expect(r.err).toContain("JSON patch operation 0 (test /machine/sysctls/a.b): test failed");
    expect(f.backend.config).toBe(before);
    // A patch whose result the schema refuses is not sent either.
    const bad = await ctl(...node(), "patch", "machineconfig", "--patch", "machine:\n  colour: blue\n");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("machine.colour");
    expect(f.backend.config).toBe(before);
    expect((await ctl(...node(), "patch", "machineconfig")).code).toBe(2);
  });
});
