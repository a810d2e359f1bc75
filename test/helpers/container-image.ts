// Test images for container services and a registry for a sandbox node: an
// amd64 image of Debian's busybox-static whose entrypoint is a shell script,
// and a real Distribution registry run INSIDE the node's network namespace
// (the node's only link is lo) serving the storage of a host-side staging
// registry the test pushed into.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sandbox } from "../../scripts/sandbox.ts";
import { blob, busyboxLayer, imageFor, type Blob, type TestImage } from "../fixtures/registry/image.ts";
import { REGISTRY_BIN } from "../fixtures/registry/registry-server.ts";

/** An amd64 image (busybox at /bin/busybox) whose entrypoint is `busybox sh -c script`, with correct diff IDs. */
export function scriptImage(script: string, layer: Blob = busyboxLayer()): TestImage {
  const base = imageFor("amd64", [layer]);
  const cfg = JSON.parse(new TextDecoder().decode(base.config.bytes));
  cfg.rootfs.diff_ids = [`sha256:${new Bun.CryptoHasher("sha256").update(Bun.gunzipSync(new Uint8Array(layer.bytes))).digest("hex")}`];
  cfg.config = { Entrypoint: ["/bin/busybox", "sh", "-c", script], Cmd: [], Env: ["PATH=/bin"] };
  const config = blob(base.config.mediaType, new TextEncoder().encode(JSON.stringify(cfg)));
  const manifest = JSON.parse(new TextDecoder().decode(base.manifest.bytes));
  manifest.config = { mediaType: config.mediaType, digest: config.digest, size: config.size };
  return { config, layers: [layer], manifest: blob(base.manifest.mediaType, new TextEncoder().encode(JSON.stringify(manifest))) };
}

/**
 * A registry on 127.0.0.1:`port` in the node's network namespace (HTTPS with `tls`),
 * serving `storage` (a staging registry's `data` directory). Resolves once it
 * accepts connections; the process is returned for the test to end by pid.
 */
export async function registryInNode(
  sb: Sandbox,
  port: number,
  storage: string,
  tmp: string,
  tls?: { cert: string; key: string },
): Promise<ReturnType<typeof Bun.spawn>> {
  const pid = await sb.initPid();
  const dir = mkdtempSync(join(tmp, "reg-"));
  const lines = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", `    rootdirectory: ${storage}`, "http:", `  addr: 127.0.0.1:${port}`];
  lines.push(`  secret: s-${process.pid}-${port}`);
  if (tls) {
    writeFileSync(join(dir, "server.crt"), tls.cert);
    writeFileSync(join(dir, "server.key"), tls.key, { mode: 0o600 });
    lines.push("  tls:", `    certificate: ${join(dir, "server.crt")}`, `    key: ${join(dir, "server.key")}`);
  }
  writeFileSync(join(dir, "config.yml"), `${lines.join("\n")}\n`);
  const proc = Bun.spawn(["nsenter", "-t", String(pid), "-n", REGISTRY_BIN, "serve", join(dir, "config.yml")], {
    stdout: "ignore",
    stderr: Bun.file(join(dir, "log")),
  });
  for (let i = 0; i < 300; i++) {
    const probe = Bun.spawnSync(["nsenter", "-t", String(pid), "-n", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stderr: "ignore" });
    if (probe.exitCode === 0) return proc;
    await Bun.sleep(50);
  }
  proc.kill("SIGKILL");
  throw new Error(`registry on 127.0.0.1:${port} in the node's netns did not come up: ${readFileSync(join(dir, "log"), "utf8")}`);
}

/** `img` as an OCI image layout in a tar (for an air-gapped import), its manifest named `refName`. Returns the tar's path. */
export function ociArchive(img: TestImage, refName: string, tmp: string): string {
  const layout = mkdtempSync(join(tmp, "layout-"));
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  for (const b of [img.config, img.manifest, ...img.layers]) writeFileSync(join(layout, "blobs/sha256", b.digest.slice(7)), b.bytes);
  const entry = {
    mediaType: img.manifest.mediaType,
    digest: img.manifest.digest,
    size: img.manifest.size,
    annotations: { "org.opencontainers.image.ref.name": refName },
  };
  writeFileSync(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  const archive = `${layout}.tar`;
  if (Bun.spawnSync(["tar", "-C", layout, "-cf", archive, "."]).exitCode !== 0) throw new Error("tar of the OCI layout failed");
  return archive;
}
