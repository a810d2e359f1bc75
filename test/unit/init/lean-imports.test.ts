// What PID 1 loads at start is its static import graph: every module reached
// from src/applets/init/main.ts through value imports (dynamic import() and
// require() load later, when used). Bun's node:http2, node:net, node:tls,
// node:crypto, node:os, node:dns and node:fs/promises cost megabytes each to
// load (src/lib/node-libs.ts, README "Where the remaining cost is"), and a
// default node uses none of them: the API is our HTTP/2 on Bun.listen, the
// containerd health check our one-call client, hashes and random ids Bun's
// native ones. This test fails when a static import brings one back.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const HEAVY = [
  "node:http2",
  "node:net",
  "node:tls",
  "node:crypto",
  "node:os",
  "node:dns",
  "node:dns/promises",
  "node:fs/promises",
  "node:worker_threads",
  "node:child_process",
  "node:dgram",
  "yaml",
];

/** Value imports and re-exports of a module (type-only ones are erased by the bundler). */
function valueImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?\sfrom\s+"([^"]+)"|^import\s+"([^"]+)"/gms)) {
    if (m[2]) continue;
    const spec = m[3] ?? m[4];
    // `import { type A, type B } from` is type-only too.
    if (m[0].startsWith("import {") && /^import\s*\{\s*(type\s+\w+\s*,?\s*)+\}/.test(m[0])) continue;
    if (spec) out.push(spec);
  }
  return out;
}

/** Every module PID 1 evaluates at start, and who imports each bare specifier. */
function startGraph(entry: string): Map<string, string> {
  const importer = new Map<string, string>();
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    for (const spec of valueImports(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) {
        if (!importer.has(spec)) importer.set(spec, relative(process.cwd(), file));
        continue;
      }
      const path = resolve(dirname(file), spec);
      if (!existsSync(path) || seen.has(path)) continue;
      seen.add(path);
      queue.push(path);
    }
  }
  return importer;
}

test("PID 1's start graph reaches the boot sequence and the API server (the walk sees through the lazy applet table)", () => {
  const graph = startGraph(resolve("src/init/main.ts"));
  // Sanity: modules it must reach, or the walk proves nothing.
  expect(graph.has("bun:ffi")).toBe(true);
  expect(graph.has("node:fs")).toBe(true);
});

test("no static import in PID 1's start graph loads a heavy node module", () => {
  const graph = startGraph(resolve("src/init/main.ts"));
  const found = HEAVY.filter((m) => graph.has(m)).map((m) => `${m} <- ${graph.get(m)}`);
  expect(found).toEqual([]);
});

test("the walk catches such an import (a module of the graph that imports node:http2 statically)", () => {
  const graph = startGraph(resolve("src/containerd/grpc.ts"));
  expect(graph.has("node:http2")).toBe(false); // lazy there too: only types
  expect(valueImports('import http2 from "node:http2";\nimport type { X } from "node:net";\nimport { type Y } from "node:tls";')).toEqual(["node:http2"]);
});
