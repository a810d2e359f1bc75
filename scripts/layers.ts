// The layering rules of src/, checked: who may import whom, and no import
// cycles (type-only imports count: a cycle closed by a type is still a
// knot a reader has to untie). `bun scripts/layers.ts` prints the violations;
// test/unit/layers.test.ts runs the same check.
//
// Our own ~80 lines rather than dependency-cruiser or madge: both read
// TypeScript through the `typescript` package's compiler API, and the pinned
// TypeScript 7 (the native compiler) ships no such API; the import statements
// of this tree are regular enough for a scanner.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** A module's layer: the first folder under src/ (src/main.ts is "main"). */
export function layerOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1]! : "main";
}

/** Which layers each layer may import; a layer may always import itself. Absent: anything but main. */
export const ALLOWED: Record<string, readonly string[]> = {
  sys: [],
  node: ["sys"],
  lib: ["sys", "node"],
};

export type Graph = Map<string, string[]>;

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)|(?:^|\n)\s*import\s*["'](\.[^"']+)["']/g;

/** Relative imports of one file's text, resolved against its path (repo-relative). */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) out.push(relative(".", resolve(dirname(file), spec)));
  }
  return out;
}

export function graphOf(root = "src"): Graph {
  const g: Graph = new Map();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts"))
        g.set(
          p,
          importsOf(p, readFileSync(p, "utf8")).filter((t) => t.startsWith("src/")),
        );
    }
  };
  walk(root);
  return g;
}

/** "a -> b" for every import a layer may not make. */
export function upwardImports(g: Graph): string[] {
  const bad: string[] = [];
  for (const [from, tos] of g) {
    const allowed = ALLOWED[layerOf(from)];
    for (const to of tos) {
      const target = layerOf(to);
      if (target === layerOf(from)) continue;
      if (target === "main" || (allowed && !allowed.includes(target))) bad.push(`${from} -> ${to}`);
    }
  }
  return bad;
}

/** Every import cycle, as the files on it (Tarjan's strongly connected components of size > 1, or a self-import). */
export function cycles(g: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

if (import.meta.main) {
  const g = graphOf();
  const up = upwardImports(g);
  const cyc = cycles(g);
  for (const u of up) console.log(`upward import: ${u}`);
  for (const c of cyc) console.log(`import cycle: ${c.join(" <-> ")}`);
  console.log(`${g.size} modules, ${up.length} upward imports, ${cyc.length} cycles`);
  process.exit(up.length + cyc.length === 0 ? 0 : 1);
}
