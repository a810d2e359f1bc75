// -e (where to connect) vs -n (which nodes the call is for), as talosctl:
// which endpoint is dialled and which gRPC metadata it gets (a capturing
// HTTP/2 server), and forwarding through one endpoint to two real machine API
// servers with the same machine CA over mutual TLS on loopback: every reply
// tagged with its node, the caller's role kept on the far node, a dead node
// reported while the others still answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { main } from "../../../src/applets/minosctl/main.ts";
import { connect } from "../../../src/api/client.ts";
import { resolveTargets } from "../../../src/applets/minosctl/targets.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { generateCa, issueClientCert, type CertAndKey } from "../../../src/api/pki/certs.ts";
import { startMachineApi, type MachineApi } from "../../../src/api/server.ts";
import { FakeBackend } from "../../helpers/fake-backend.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("resolveTargets", () => {
  test("-e is where to connect, -n what the call is for; commas split; context defaults", () => {
    expect(resolveTargets(["a:1"], ["b", "c"], {})).toEqual({ endpoints: ["a:1"], nodes: ["b", "c"], metadata: { nodes: ["b", "c"] } });
    expect(resolveTargets(["a:1"], ["b"], {})).toEqual({ endpoints: ["a:1"], nodes: ["b"], metadata: { node: "b" } });
    expect(resolveTargets([], [], { endpoints: ["e1", "e2"], nodes: ["n1"] })).toEqual({ endpoints: ["e1", "e2"], nodes: ["n1"], metadata: { node: "n1" } });
    // Flags win over the context.
    expect(resolveTargets(["x"], [], { endpoints: ["e1"], nodes: ["n1"] }).endpoints).toEqual(["x"]);
    expect(resolveTargets([], ["y"], { endpoints: ["e1"], nodes: ["n1"] }).nodes).toEqual(["y"]);
  });
  test("no endpoint anywhere: one node is dialled itself; several need -e; nothing = the local socket", () => {
    expect(resolveTargets([], ["10.0.0.1"], {})).toEqual({ endpoints: ["10.0.0.1"], nodes: [], metadata: {} });
    expect(() => resolveTargets([], ["a", "b"], {})).toThrow(/need an endpoint/);
    expect(resolveTargets([], [], {}).endpoints).toEqual(["unix:/system/run/machined/machine.sock"]);
    expect(() => resolveTargets(["a"], ["unix:/x.sock"], {})).toThrow(/socket is an endpoint/);
  });
});

describe("what minosctl sends", () => {
  let dir: string;
  let server: http2.Http2Server;
  const seen: http2.IncomingHttpHeaders[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "minosctl-md-"));
    server = http2.createServer();
    server.on("stream", (stream: http2.ServerHttp2Stream, headers) => {
      seen.push(headers);
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "captured" }, { endStream: true });
    });
    await new Promise<void>((r) => server.listen(join(dir, "capture.sock"), r));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function sent(...args: string[]): Promise<http2.IncomingHttpHeaders> {
    seen.length = 0;
    const io = captureIo({ HOME: dir });
    const code = await main(args, io);
    expect(io.err).toContain("captured");
    expect(code).toBe(1);
    expect(seen.length).toBe(1);
    return seen[0]!;
  }

  test("-e dials the endpoint; -n a,b -n c goes as `nodes` metadata, one value each; one -n as `node`", async () => {
    const e = `unix:${join(dir, "capture.sock")}`;
    const many = await sent("-e", e, "-n", "a,b", "-n", "c", "version");
    expect(many[":path"]).toBe("/machine.MachineService/Version");
    expect(String(many.nodes).split(/,\s*/)).toEqual(["a", "b", "c"]);
    expect(many.node).toBeUndefined();
    const one = await sent("--endpoints", e, "--nodes", "10.0.0.7", "hostname");
    expect(one.node).toBe("10.0.0.7");
    expect(one.nodes).toBeUndefined();
    const none = await sent("-e", e, "hostname");
    expect(none.node).toBeUndefined();
    expect(none.nodes).toBeUndefined();
  });

  test("several endpoints are tried in order: a dead one is skipped", async () => {
    const h = await sent("-e", `unix:${join(dir, "dead.sock")},unix:${join(dir, "capture.sock")}`, "hostname");
    expect(h[":path"]).toBe("/machine.MachineService/Hostname");
  });

  test("the context's endpoints and nodes, from a talosconfig named by --talosconfig", async () => {
    const cfg = join(dir, "talosconfig");
    writeFileSync(cfg, stringify({ context: "c", contexts: { c: { endpoints: [`unix:${join(dir, "capture.sock")}`], nodes: ["n1", "n2"] } } }));
    const h = await sent("--talosconfig", cfg, "version");
    expect(String(h.nodes).split(/,\s*/)).toEqual(["n1", "n2"]);
  });

  test("a config file named by a flag that is missing is an error, not a fallback", async () => {
    seen.length = 0;
    const io = captureIo({ HOME: dir });
    expect(await main(["--talosconfig", join(dir, "nope"), "hostname"], io)).toBe(2);
    expect(io.err).toContain("nope: cannot read the client config: no such file");
    expect(seen.length).toBe(0);
    const io2 = captureIo({ HOME: dir, MINOSCONFIG: join(dir, "nope2") });
    expect(await main(["hostname"], io2)).toBe(2);
    expect(io2.err).toContain("nope2: cannot read the client config");
  });
});

describe("forwarding through one endpoint to two nodes (mutual TLS, one machine CA)", () => {
  let dir: string;
  let ca: CertAndKey;
  const apis: MachineApi[] = [];
  const backends: FakeBackend[] = [];
  let A: string;
  let B: string;

  function talosconfig(name: string, role: string): string {
    const cert = issueClientCert(ca, role, name);
    const path = join(dir, `${name}.talosconfig`);
    writeFileSync(path, stringify({ context: "t", contexts: { t: { endpoints: [A], ca: b64(ca.cert), crt: b64(cert.cert), key: b64(cert.key) } } }));
    return path;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "minosctl-fwd-"));
    ca = generateCa();
    for (const name of ["node-a", "node-b"]) {
      const backend = new FakeBackend();
      backend.host = name;
      backends.push(backend);
      apis.push(await startMachineApi(backend, { socketPath: join(dir, `${name}.sock`), tcpPort: 0, tcpHost: "127.0.0.1", ca, stateDir: join(dir, "state") }));
    }
    A = `127.0.0.1:${apis[0]!.tcpPort}`;
    B = `127.0.0.1:${apis[1]!.tcpPort}`;
  });
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function ctl(...args: string[]) {
    const io = captureIo({ HOME: dir });
    const code = await main(args, io);
    return { code, out: io.out, err: io.err };
  }

  test("-e A -n A,B version lists both nodes, each tagged with its target", async () => {
    const cfg = talosconfig("admin", "os:admin");
    const r = await ctl("--talosconfig", cfg, "-e", A, "-n", `${A},${B}`, "version");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const nodes = [...r.out.matchAll(/NODE:\s+(\S+)/g)].map((m) => m[1]);
    expect(nodes.sort()).toEqual([A, B].sort());
    const hosts = await ctl("--talosconfig", cfg, "-n", `${A},${B}`, "hostname");
    expect(hosts.out).toMatch(new RegExp(`${A}\\s+node-a`));
    expect(hosts.out).toMatch(new RegExp(`${B}\\s+node-b`));
  });

  test("-e A -n B is answered by B; over the node socket too (admin)", async () => {
    const cfg = talosconfig("admin2", "os:admin");
    expect((await ctl("--talosconfig", cfg, "-n", B, "hostname")).out).toBe("node-b\n");
    expect((await ctl("-e", `unix:${join(dir, "node-a.sock")}`, "-n", B, "hostname")).out).toBe("node-b\n");
  });

  test("the forwarded call keeps the caller's role: a reader via A may read B, not shut B down", async () => {
    const cfg = talosconfig("reader", "os:reader");
    backends[1]!.powerActions.length = 0;
    expect((await ctl("--talosconfig", cfg, "-n", B, "hostname")).out).toBe("node-b\n");
    const denied = await ctl("--talosconfig", cfg, "-n", B, "shutdown");
    expect(denied.code).toBe(1);
    expect(denied.err).toContain("role os:reader is not allowed");
    expect(backends[1]!.powerActions).toEqual([]);
    // Several nodes: refused at the endpoint, before anything is forwarded.
    const many = await ctl("--talosconfig", cfg, "-n", `${A},${B}`, "shutdown");
    expect(many.code).toBe(1);
    expect(backends.flatMap((b) => b.powerActions)).toEqual([]);
  });

  test("more than 100 nodes in one call are refused before any is dialled (client and endpoint)", async () => {
    const cfg = talosconfig("admin5", "os:admin");
    const many = Array.from({ length: 101 }, (_, i) => `10.255.0.${i}`);
    const r = await ctl("--talosconfig", cfg, "-n", many.join(","), "hostname");
    expect(r.code).toBe(2);
    expect(r.err).toContain("101 nodes in one call; at most 100");
    // The endpoint checks too: here the list arrives as one comma-joined header value.
    const c = connect({ endpoint: `unix:${join(dir, "node-a.sock")}`, metadata: { nodes: many.join(",") }, timeoutMs: 5000 });
    try {
      await expect(c.hostname()).rejects.toThrow("101 nodes in one call; at most 100");
    } finally {
      c.close();
    }
  });

  test("an impersonator certificate without the caller's role in metadata is refused", async () => {
    const cfg = talosconfig("imp", "os:impersonator");
    const r = await ctl("--talosconfig", cfg, "hostname");
    expect(r.code).toBe(1);
    expect(r.err).toContain("talos-role");
  });

  test("a dead node is reported on stderr (exit 1); the live node's answer is still printed", async () => {
    const cfg = talosconfig("admin3", "os:admin");
    const r = await ctl("--talosconfig", cfg, "-n", `${B},127.0.0.1:1`, "hostname");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`${B}\\s+node-b`));
    expect(r.err).toMatch(/^minosctl: 127\.0\.0\.1:1: .*connection refused/m);
  });

  test("streams: logs from two nodes, each line prefixed with its node", async () => {
    const cfg = talosconfig("admin4", "os:admin");
    const r = await ctl("--talosconfig", cfg, "-n", `${A},${B}`, "logs", "containerd");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").filter(Boolean).sort()).toEqual(
      [`${A}: containerd: started`, `${A}: containerd: ready`, `${B}: containerd: started`, `${B}: containerd: ready`].sort(),
    );
  });
});
