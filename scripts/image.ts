// bun run image [--gzip] [--compare]
//   Packs dist/rootfs (+ kernel modules, /dev/console) into dist/initramfs.cpio.zst
//   and copies the kernel to dist/vmlinuz.
//   --gzip     write dist/initramfs.cpio.gz instead
//   --compare  write both from one cpio and print size and time of each
import { rmSync } from "node:fs";
import { IMAGE_GZIP, IMAGE_ZSTD, buildImage, compress, installKernel, packCpio } from "../build/image.ts";

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

if (process.argv.includes("--compare")) {
  const cpio = `dist/.initramfs.${process.pid}.cpio`;
  try {
    const t0 = performance.now();
    const p = packCpio("dist/rootfs", cpio);
    console.log(
      `image: ${p.kernel.pkg} ${p.kernel.debVersion}; ${p.modules.loadable.length} modules; cpio ${p.entries} entries, ${mib(p.cpioBytes)} in ${s(performance.now() - t0)}`,
    );
    installKernel(p.kernel);
    for (const [kind, out] of [
      ["zstd", IMAGE_ZSTD],
      ["gzip", IMAGE_GZIP],
    ] as const) {
      const c = compress(kind, cpio, out, p.kernel);
      console.log(`image: ${out} ${mib(c.bytes)} (${kind}, ${((100 * c.bytes) / p.cpioBytes).toFixed(0)}% of the cpio) compressed in ${s(c.ms)}`);
    }
  } finally {
    rmSync(cpio, { force: true });
  }
} else {
  const st = buildImage({ compression: process.argv.includes("--gzip") ? "gzip" : "zstd" });
  console.log(`image: kernel ${st.kernel.pkg} ${st.kernel.debVersion} -> dist/vmlinuz`);
  console.log(`image: modules: ${st.modules.loadable.join(" ")}${st.modules.builtin.length ? ` (built in: ${st.modules.builtin.join(" ")})` : ""}`);
  console.log(
    `image: cpio ${st.entries} entries, ${mib(st.cpioBytes)} in ${s(st.packMs)}; ${st.compression} ${mib(st.outBytes)} in ${s(st.compressMs)} -> ${st.out}`,
  );
}
