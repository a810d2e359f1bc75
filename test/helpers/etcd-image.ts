// An etcd image for the tests, laid out like the upstream one
// (gcr.io/etcd-development/etcd: /usr/local/bin/etcd and etcdctl), built from
// Debian's etcd-server and etcd-client packages (test/helpers/etcd.ts fetches
// them). Debian builds both dynamically against glibc (`ldd` lists libc.so.6
// and the loader), so the layer carries exactly the libraries `ldd` names, at
// the paths the loader looks for them. One gzip'd layer, OCI media types,
// correct diff IDs.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ETCD_BINARY_IN_IMAGE, ETCDCTL_IN_IMAGE } from "../../src/etcd/service.ts";
import { blob, type TestImage } from "../fixtures/registry/image.ts";
import { etcdctlPath, etcdPath } from "./etcd.ts";

/** The shared libraries a binary needs (absolute paths, the loader included); [] for a static binary. */
export function sharedLibraries(binary: string): string[] {
  const r = Bun.spawnSync(["ldd", binary], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  if (/not a dynamic executable|statically linked/.test(out)) return [];
  if (r.exitCode !== 0) throw new Error(`ldd ${binary}: ${out}`);
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
    else if (/=> not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libs;
}

function sha256(b: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
}

export interface EtcdImageBuild {
  image: TestImage;
  /** The libraries put in the layer ([] when both binaries are static). */
  libraries: string[];
}

export function buildEtcdImage(): EtcdImageBuild {
  const dir = mkdtempSync(join(tmpdir(), `minos-etcd-image-${process.pid}-`));
  try {
    const bins = [
      { from: etcdPath(), to: ETCD_BINARY_IN_IMAGE },
      { from: etcdctlPath(), to: ETCDCTL_IN_IMAGE },
    ];
    const libraries = [...new Set(bins.flatMap((b) => sharedLibraries(b.from)))];
    const root = join(dir, "root");
    const put = (from: string, to: string, mode: number) => {
      mkdirSync(join(root, dirname(to)), { recursive: true });
      copyFileSync(from, join(root, to)); // follows symlinks: the loader's link becomes the file itself
      chmodSync(join(root, to), mode);
    };
    for (const b of bins) put(b.from, b.to, 0o755);
    for (const l of libraries) put(l, l, 0o755);
    // etcd writes nothing outside its data dir, but Go's os.TempDir and a shell-less image want a /tmp.
    mkdirSync(join(root, "tmp"), { recursive: true, mode: 0o1777 });
    chmodSync(join(root, "tmp"), 0o1777);
    const tar = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C", root, "-cf", "-", "."], { stdout: "pipe", stderr: "pipe" });
    if (tar.exitCode !== 0) throw new Error(`tar: ${tar.stderr.toString()}`);
    const raw = new Uint8Array(tar.stdout);
    const layer = blob("application/vnd.oci.image.layer.v1.tar+gzip", Bun.gzipSync(raw));
    const config = blob(
      "application/vnd.oci.image.config.v1+json",
      new TextEncoder().encode(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          config: { Entrypoint: [ETCD_BINARY_IN_IMAGE], Env: ["PATH=/usr/local/bin:/usr/bin:/bin"] },
          rootfs: { type: "layers", diff_ids: [sha256(raw)] },
        }),
      ),
    );
    const manifest = blob(
      "application/vnd.oci.image.manifest.v1+json",
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
          layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
        }),
      ),
    );
    return { image: { config, layers: [layer], manifest }, libraries };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
