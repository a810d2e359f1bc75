// The bootable node image: dist/rootfs plus the kernel's modules plus a
// /dev/console node, packed as one root-owned newc cpio and compressed
// (zstd: the Debian kernel has CONFIG_RD_ZSTD=y; gzip kept for comparison).
// The kernel is copied beside it as dist/vmlinuz, so dist/ holds a bootable pair.
import { copyFileSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import { Tree, writeCpio } from "./cpio.ts";
import { fetchKernel, kernelConfig, stageModules, type Kernel } from "./kernel.ts";

export type Compression = "zstd" | "gzip";

export const IMAGE_ZSTD = "dist/initramfs.cpio.zst";
export const IMAGE_GZIP = "dist/initramfs.cpio.gz";
export const VMLINUZ = "dist/vmlinuz";

/** Compressor argv reading stdin-less from `input`, writing `output`. zstd -3: see the README's measurements. */
const COMPRESSORS: Record<Compression, { config: string; argv: (input: string) => string[] }> = {
  zstd: { config: "CONFIG_RD_ZSTD", argv: (i) => ["zstd", "-q", "-T0", "-3", "-c", i] },
  gzip: { config: "CONFIG_RD_GZIP", argv: (i) => ["gzip", "-6", "-n", "-c", i] },
};

export interface ImageOptions {
  rootfs?: string;
  out?: string;
  compression?: Compression;
  /** Extra files to place in the image (path -> content), e.g. a machine config. */
  files?: Record<string, string | Uint8Array>;
}

export interface ImageStats {
  out: string;
  kernel: Kernel;
  compression: Compression;
  modules: { loadable: string[]; builtin: string[] };
  entries: number;
  cpioBytes: number;
  outBytes: number;
  /** Time to write the cpio (staging modules included), ms. */
  packMs: number;
  /** Time to compress it, ms. */
  compressMs: number;
}

/** Writes the cpio once to `cpioFile`; returns the kernel and module set used. */
export function packCpio(rootfs: string, cpioFile: string, files: Record<string, string | Uint8Array> = {}) {
  if (!existsSync(`${rootfs}/sbin/init`)) throw new Error(`image: ${rootfs}/sbin/init missing: run \`bun run build\` first`);
  const kernel = fetchKernel();
  const stage = `dist/.modules.${process.pid}`;
  try {
    const modules = stageModules(kernel, stage);
    const tree = new Tree();
    tree.addDir(rootfs);
    // /lib is a symlink to usr/lib in the rootfs (merged /usr).
    tree.addDir(`${stage}/lib/modules`, "usr/lib/modules");
    // The kernel opens /dev/console for init's stdio before init mounts devtmpfs.
    tree.set("dev/console", { kind: "char", mode: 0o600, major: 5, minor: 1 });
    for (const [p, data] of Object.entries(files)) tree.set(p, { kind: "file", mode: 0o644, mtime: 0, data });
    const st = writeCpio(tree, cpioFile);
    return { kernel, modules, entries: st.entries, cpioBytes: st.bytes };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export function compress(kind: Compression, input: string, output: string, kernel: Kernel): { ms: number; bytes: number } {
  const c = COMPRESSORS[kind];
  if (kernelConfig(kernel).get(c.config) !== "y") throw new Error(`image: ${kernel.pkg} lacks ${c.config}=y; cannot boot a ${kind} initramfs`);
  const t0 = performance.now();
  const tmp = `${output}.${process.pid}.tmp`;
  const r = Bun.spawnSync(c.argv(input), { stdout: Bun.file(tmp), stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`image: ${c.argv(input).join(" ")} failed: ${r.stderr.toString().trim()}`);
  }
  renameSync(tmp, output);
  return { ms: performance.now() - t0, bytes: statSync(output).size };
}

/** Copies the kernel to dist/vmlinuz (atomically). */
export function installKernel(k: Kernel): void {
  copyFileSync(k.vmlinuz, `${VMLINUZ}.${process.pid}`);
  renameSync(`${VMLINUZ}.${process.pid}`, VMLINUZ);
}

/** Packs dist/rootfs into a compressed initramfs and puts the kernel at dist/vmlinuz. */
export function buildImage(opts: ImageOptions = {}): ImageStats {
  const compression = opts.compression ?? "zstd";
  const out = opts.out ?? (compression === "zstd" ? IMAGE_ZSTD : IMAGE_GZIP);
  const cpioFile = `dist/.initramfs.${process.pid}.cpio`;
  try {
    const t0 = performance.now();
    const p = packCpio(opts.rootfs ?? "dist/rootfs", cpioFile, opts.files);
    const packMs = performance.now() - t0;
    const c = compress(compression, cpioFile, out, p.kernel);
    installKernel(p.kernel);
    return { out, kernel: p.kernel, compression, modules: p.modules, entries: p.entries, cpioBytes: p.cpioBytes, outBytes: c.bytes, packMs, compressMs: c.ms };
  } finally {
    rmSync(cpioFile, { force: true });
  }
}
