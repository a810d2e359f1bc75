// bun run build: dist/minos, then dist/rootfs around it.
//   --no-bytecode   compile without bytecode (for measuring the difference)
import { renameSync } from "node:fs";
import { compile } from "./build/compile.ts";
import { countBins, installUpstream } from "./build/packages.ts";
import { layoutRootfs, readLinks, swapInto } from "./build/rootfs.ts";

const t0 = performance.now();
const bytecode = !process.argv.includes("--no-bytecode");
// Build beside the old output and rename over it, so a sandbox already
// chrooted into dist/rootfs (a test, npm start) keeps a consistent tree.
const tmpBin = `dist/.minos.${process.pid}`;
const bin = await compile({ outfile: tmpBin, bytecode, minify: true });
renameSync(tmpBin, "dist/minos");
console.log(`build: dist/minos ${(bin.bytes / 1048576).toFixed(1)} MiB (bytecode ${bytecode ? "on" : "off"}) in ${(bin.ms / 1000).toFixed(2)} s`);
const tmpRoot = `dist/.rootfs.${process.pid}`;
const { libs } = layoutRootfs(tmpRoot, "dist/minos", readLinks());
const up = installUpstream(tmpRoot);
const bins = countBins(tmpRoot);
console.log(
  `build: ${up.binaries} upstream binaries, ${up.cniPlugins} CNI plugins in /opt/cni/bin, from ${up.debs.length} Debian packages, ${up.libs.length} libraries, ${up.etc} files in /etc`,
);
console.log(`build: /bin+/sbin: ${bins.unique} unique files, ${bins.entries} entries`);
swapInto(tmpRoot, "dist/rootfs");
console.log(`build: dist/rootfs with ${readLinks().length} minos names, ${libs.length} libraries, boot shim`);
console.log(`build: done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
