// A protobufjs Root that holds only the definitions a caller has asked for
// (containerd's client; tests of the machine API that compare with protobufjs).
// Building a whole schema with Root.fromJSON took 11–15 ms of PID 1's start for
// the machine API alone and kept every Type alive, though a node uses a
// handful of them at boot. Here a top-level definition (a
// package-level message or enum, with everything nested in it) is added the
// first time it, or a message that refers to it, is looked up: its JSON is
// taken from the generated schema and its dependencies from the generated
// DEPS table (scripts/gen-proto.ts), so field types always resolve to what
// the whole schema resolves them to (the partial root is a subset of the
// full one, and protobufjs looks names up innermost scope first).
import type protobuf from "protobufjs/light.js";

/**
 * protobufjs itself, loaded at the first lookup: a synchronous require, so the
 * bundle evaluates it then and not at PID 1's start (protobufjs and `long`
 * cost ~5.6 ms of CPU and ~12 MiB of RSS to load, and PID 1 imports the
 * containerd and etcd clients on every node but calls them on some only).
 */
export function protobufjs(): typeof protobuf {
  return require("protobufjs/light.js") as typeof protobuf;
}

/** Top-level definition (full name, no leading dot) -> the top-level definitions its fields use. */
export type SchemaDeps = Record<string, readonly string[]>;

export interface LazyRoot {
  /** The message type `name` (full name, no leading dot; nested names too); throws when the schema has none. */
  lookupType(name: string): protobuf.Type;
}

/** A node of protobufjs JSON: a namespace (nested), a message (fields) or an enum (values). */
type JsonNode = { nested?: Record<string, JsonNode>; values?: unknown };

export function lazyRoot(schema: protobuf.INamespace, deps: SchemaDeps): LazyRoot {
  let root: protobuf.Root | undefined;
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

  const addOne = (pb: typeof protobuf, root: protobuf.Root, full: string): void => {
    const dot = full.lastIndexOf(".");
    const ns = dot < 0 ? root : root.define(full.slice(0, dot));
    const name = full.slice(dot + 1);
    const json = jsonOf(full);
    ns.add(json.values !== undefined ? pb.Enum.fromJSON(name, json as unknown as protobuf.IEnum) : pb.Type.fromJSON(name, json as unknown as protobuf.IType));
  };

  const load = (top: string): protobuf.Root => {
    const pb = protobufjs();
    root ??= new pb.Root();
    if (loaded.has(top)) return root;
    const todo = [top];
    let added = false;
    while (todo.length) {
      const t = todo.pop()!;
      if (loaded.has(t)) continue;
      loaded.add(t);
      addOne(pb, root, t);
      added = true;
      for (const d of deps[t] ?? []) if (!loaded.has(d)) todo.push(d);
    }
    // Resolves only what was just added: resolved namespaces are skipped.
    if (added) root.resolveAll();
    return root;
  };

  const cache = new Map<string, protobuf.Type>();
  return {
    lookupType(name) {
      let t = cache.get(name);
      if (!t) {
        t = load(topOf(name)).lookupType(name);
        cache.set(name, t);
      }
      return t;
    },
  };
}
