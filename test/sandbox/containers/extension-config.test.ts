// Talos's ExtensionServiceConfig on a booted sandbox node (containers: a
// cgroup namespace and the rootfs bind-mounted on itself, DESIGN fact 9): the
// container service "ext" runs an image this test built (busybox-static, its
// own entrypoint), pulled by minos from a real Distribution registry inside
// the node's network namespace. The config's ExtensionServiceConfig document
// gives it a file and an environment; the container prints the file it sees at
// mountPath, how that path is mounted, and its environment. Asserted: both
// reach `minosctl logs`; the document's variable wins over the service's env;
// the mount is read-only; the file is on the host at Talos's path. Then the
// API's view of bad documents: a relative mountPath refused with its YAML path,
// a document for a service that does not exist accepted with a warning.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ApiError, connect } from "../../../src/api/client.ts";
import { main } from "../../../src/applets/minosctl/main.ts";
import { captureIo } from "../../../src/lib/io.ts";
import { withNode } from "../../helpers/node.ts";
import { registryInNode, scriptImage } from "../../helpers/container-image.ts";
import { pushImage } from "../../fixtures/registry/image.ts";
import { startRegistry, type RunningRegistry } from "../../fixtures/registry/registry-server.ts";

const PORT = 17000 + (process.pid % 1000);
const REGISTRY = `127.0.0.1:${PORT}`;
const MARK = `ext-config-${process.pid}`;

// Prints what the ExtensionServiceConfig gave it, then idles.
const SCRIPT = [
  `echo "EXT-FILE $(/bin/busybox cat /etc/ext/ext.conf)"`,
  `echo "EXT-ENV GREETING=$GREETING ONLY_SERVICE=$ONLY_SERVICE FROM_DOC=$FROM_DOC"`,
  `echo "EXT-MOUNT $(/bin/busybox awk '$5 == "/etc/ext/ext.conf" { print $6 }' /proc/self/mountinfo)"`,
  `echo "EXT-DONE"`,
  "exec /bin/busybox sleep 100000",
].join("; ");

let tmp = "";
let staging: RunningRegistry;
const procs: ReturnType<typeof Bun.spawn>[] = [];

beforeAll(async () => {
  for (const bin of ["nsenter", "bash"]) if (!Bun.which(bin)) throw new Error(`needs ${bin} (util-linux, bash)`);
  tmp = mkdtempSync(join(tmpdir(), `minos-extcfg-${process.pid}-`));
  staging = await startRegistry();
  await pushImage({ url: staging.url }, "test/ext", scriptImage(SCRIPT), "v1");
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  await staging?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const V1ALPHA1 = {
  version: "v1alpha1",
  machine: { registries: { mirrors: { [REGISTRY]: { endpoints: [`http://${REGISTRY}`] } } } },
  minos: {
    services: [
      {
        id: "ext",
        image: `${REGISTRY}/test/ext:v1`,
        env: { GREETING: "from-the-service", ONLY_SERVICE: "kept" },
        restart: "always",
        backoff: { initialMs: 200, maxMs: 1000 },
        console: true,
      },
    ],
  },
};

const extDoc = (extra: Record<string, unknown> = {}) =>
  stringify({
    apiVersion: "v1alpha1",
    kind: "ExtensionServiceConfig",
    name: "ext",
    configFiles: [{ content: `greeting = ${MARK}\n`, mountPath: "/etc/ext/ext.conf" }],
    environment: ["GREETING=from-the-document", "FROM_DOC=yes"],
    ...extra,
  });

const config = (...docs: string[]) => [stringify(V1ALPHA1), ...docs].join("---\n");

describe("ExtensionServiceConfig on a sandbox node", () => {
  test("the document's file is mounted read-only at mountPath and its environment wins; both in minosctl logs", async () => {
    await withNode({ config: config(extDoc()), containers: true }, async (sb) => {
      await sb.waitForLine(/service ext: Waiting: image /, 60_000);
      procs.push(await registryInNode(sb, PORT, join(staging.dir, "data"), tmp));
      await sb.waitForLine(/service ext: Running: started, pid \d+/, 90_000);
      await sb.waitForLine(/\[ext\] EXT-DONE$/, 30_000);
      const io = captureIo({ HOME: tmp });
      expect(await main(["-n", `unix:${sb.socketPath}`, "logs", "ext"], io)).toBe(0);
      const lines = io.out.split("\n");
      expect(lines).toContain(`EXT-FILE greeting = ${MARK}`);
      expect(lines).toContain("EXT-ENV GREETING=from-the-document ONLY_SERVICE=kept FROM_DOC=yes");
      const mount = lines.find((l) => l.startsWith("EXT-MOUNT "));
      expect(mount?.split(" ")[1]?.split(",")).toContain("ro");
      // On the host side of the node: Talos's directory and file name.
      expect(readFileSync(join(sb.rootfs, "system/overlays/extensions/ext/etc-ext-ext.conf"), "utf8")).toBe(`greeting = ${MARK}\n`);

      const c = connect({ endpoint: `unix:${sb.socketPath}` });
      try {
        // A relative mountPath: INVALID_ARGUMENT naming the YAML path; nothing changes.
        const bad = await c
          .applyConfiguration({ data: config(extDoc({ configFiles: [{ content: "x", mountPath: "etc/ext.conf" }] })), dryRun: true })
          .catch((e: unknown) => e);
        expect(bad).toBeInstanceOf(ApiError);
        expect((bad as ApiError).codeName).toBe("INVALID_ARGUMENT");
        expect((bad as ApiError).details).toContain('document[1].configFiles[0].mountPath: "etc/ext.conf" must be an absolute path');
        // A document for a service this node does not have: accepted, with a warning naming it.
        const other = stringify({ apiVersion: "v1alpha1", kind: "ExtensionServiceConfig", name: "nut-client", environment: ["NUT_UPS=ups"] });
        const r = await c.applyConfiguration({ data: config(extDoc(), other), dryRun: true });
        expect(r.warnings).toContain('document[2].name: no minos.services entry is named "nut-client": this ExtensionServiceConfig configures nothing');
      } finally {
        c.close();
      }
    });
  }, 240_000);
});
