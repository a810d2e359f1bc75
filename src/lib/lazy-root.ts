// A protobufjs Root that holds only the definitions a caller has asked for.
// Building the whole machine API with Root.fromJSON took 11–15 ms of PID 1's
// start (before the API answered) and kept every Type of ~400 alive, though a
// node answers a handful of calls at boot. Here a top-level definition (a
// package-level message or enum, with everything nested in it) is added the
// first time it, or a message that refers to it, is looked up: its JSON is
// taken from the generated schema and its dependencies from the generated
// DEPS table (scripts/gen-proto.ts), so field types always resolve to what
// the whole schema resolves them to (the partial root is a subset of the
// full one, and protobufjs looks names up innermost scope first).
import protobuf from "protobufjs/light.js";

/** Top-level definition (full name, no leading dot) -> the top-level definitions its fields use. */
export type SchemaDeps = Record<string, readonly string[]>;

export interface LazyRoot {
  /** The message type `name` (full name, no leading dot; nested names too); throws when the schema has none. */
  lookupType(name: string): protobuf.Type;
}

/** A node of protobufjs JSON: a namespace (nested), a message (fields) or an enum (values). */
type JsonNode = { nested?: Record<string, JsonNode>; values?: unknown };

export function lazyRoot(schema: protobuf.INamespace, deps: SchemaDeps): LazyRoot {
  const root = new protobuf.Root();
  const loaded = new Set<string>();

  /** The top-level definition that contains `name` (itself, or the message it is nested in). */
  const topOf = (name: string): string => {
    let p = name;
    while (!Object.hasOwn(deps, p)) {
      const dot = p.lastIndexOf(".");
      if (dot < 0) throw new Error(`no type ${name} in the schema`);
      p = p.slice(0, dot);
    }
    return p;
  };

  const jsonOf = (full: string): JsonNode => {
    let node = schema as JsonNode;
    for (const part of full.split(".")) {
      const next = node.nested?.[part];
      if (!next) throw new Error(`schema: ${full} listed in DEPS but absent`);
      node = next;
    }
    return node;
  };

  const addOne = (full: string): void => {
    const dot = full.lastIndexOf(".");
    const ns = dot < 0 ? root : root.define(full.slice(0, dot));
    const name = full.slice(dot + 1);
    const json = jsonOf(full);
    ns.add(
      json.values !== undefined
        ? protobuf.Enum.fromJSON(name, json as unknown as protobuf.IEnum)
        : protobuf.Type.fromJSON(name, json as unknown as protobuf.IType),
    );
  };

  const load = (top: string): void => {
    if (loaded.has(top)) return;
    const todo = [top];
    let added = false;
    while (todo.length) {
      const t = todo.pop()!;
      if (loaded.has(t)) continue;
      loaded.add(t);
      addOne(t);
      added = true;
      for (const d of deps[t] ?? []) if (!loaded.has(d)) todo.push(d);
    }
    // Resolves only what was just added: resolved namespaces are skipped.
    if (added) root.resolveAll();
  };

  const cache = new Map<string, protobuf.Type>();
  return {
    lookupType(name) {
      let t = cache.get(name);
      if (!t) {
        load(topOf(name));
        t = root.lookupType(name);
        cache.set(name, t);
      }
      return t;
    },
  };
}
