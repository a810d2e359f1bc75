// bun run build: dist/minos, then dist/rootfs around it.
//   --no-bytecode   compile without bytecode (for measuring the difference)
import { compile } from "./build/compile.ts";
import { layoutRootfs, readLinks } from "./build/rootfs.ts";

const t0 = performance.now();
const bytecode = !process.argv.includes("--no-bytecode");
const bin = await compile({ outfile: "dist/minos", bytecode, minify: true });
console.log(`build: dist/minos ${(bin.bytes / 1048576).toFixed(1)} MiB (bytecode ${bytecode ? "on" : "off"}) in ${(bin.ms / 1000).toFixed(2)} s`);
const { libs } = layoutRootfs("dist/rootfs", "dist/minos", readLinks());
console.log(`build: dist/rootfs with ${readLinks().length} minos names, ${libs.length} libraries, boot shim`);
console.log(`build: done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
