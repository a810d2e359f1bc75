// RFC 6902 JSON Patch over plain JSON values (RFC 6901 pointers), as Talos's
// configpatcher applies it to a single-document machine config. Written here
// rather than taken from npm: fast-json-patch 3.1.1 was tried and works in a
// Bun-compiled binary (and names the failed op's index), but it has had no
// release since 2022 (nor has rfc6902 5.4.0), so neither counts as well kept;
// the six operations are ~150 lines whose messages we own (a patch that does
// not apply names its operation's index, op and path).
//
// applyJsonPatch never changes its input: it works on a deep copy and
// returns the result, so a failure in op 3 leaves nothing half-applied.

export type JsonPatchOp =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

export class JsonPatchError extends Error {
  constructor(
    readonly index: number,
    readonly operation: unknown,
    message: string,
  ) {
    super(`JSON patch operation ${index} (${describeOp(operation)}): ${message}`);
    this.name = "JsonPatchError";
  }
}

function describeOp(op: unknown): string {
  if (!op || typeof op !== "object") return JSON.stringify(op) ?? String(op);
  const o = op as Record<string, unknown>;
  const from = typeof o.from === "string" ? ` from ${o.from}` : "";
  return `${String(o.op)} ${String(o.path)}${from}`;
}

const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);
/** Keys that would reach an object's prototype instead of its own data. */
const UNSAFE = new Set(["__proto__", "constructor", "prototype"]);

/** Checks the shape of each operation; throws JsonPatchError naming the first bad one. */
export function checkJsonPatch(ops: unknown): JsonPatchOp[] {
  if (!Array.isArray(ops)) throw new JsonPatchError(0, ops, "a JSON patch is a list of operations");
  ops.forEach((op, i) => {
    if (!op || typeof op !== "object" || Array.isArray(op)) throw new JsonPatchError(i, op, "an operation is a map with op and path");
    const o = op as Record<string, unknown>;
    if (typeof o.op !== "string" || !OPS.has(o.op)) throw new JsonPatchError(i, op, `op must be one of ${[...OPS].join(", ")}`);
    if (typeof o.path !== "string") throw new JsonPatchError(i, op, "path must be a string");
    if ((o.op === "add" || o.op === "replace" || o.op === "test") && !Object.hasOwn(o, "value")) throw new JsonPatchError(i, op, "value is missing");
    if ((o.op === "move" || o.op === "copy") && typeof o.from !== "string") throw new JsonPatchError(i, op, "from must be a string");
  });
  return ops as JsonPatchOp[];
}

/** RFC 6901: "" is the whole document; otherwise "/a/b~1c" is ["a", "b/c"]. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`pointer "${pointer}" must start with /`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Container = Record<string, unknown> | unknown[];

const isContainer = (v: unknown): v is Container => v !== null && typeof v === "object";

function arrayIndex(arr: unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === "-") return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`"${token}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`index ${i} is out of range (length ${arr.length})`);
  return i;
}

function child(parent: unknown, token: string, at: string): unknown {
  if (Array.isArray(parent)) return parent[arrayIndex(parent, token, false)];
  if (isContainer(parent) && Object.hasOwn(parent, token)) return (parent as Record<string, unknown>)[token];
  throw new Error(`path ${at} does not exist`);
}

/** The value at a pointer; throws when it does not exist. */
function get(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  tokens.forEach((t, i) => {
    cur = child(cur, t, "/" + tokens.slice(0, i + 1).join("/"));
  });
  return cur;
}

/** The container holding the pointer's last token (which must exist for all but add). */
function parentOf(doc: unknown, tokens: string[], pointer: string): { parent: Container; key: string } {
  const parent = get(doc, tokens.slice(0, -1));
  if (!isContainer(parent)) throw new Error(`the parent of ${pointer} is not a map or a list`);
  const key = tokens.at(-1)!;
  if (UNSAFE.has(key)) throw new Error(`key "${key}" is not allowed`);
  return { parent, key };
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export const clone = <T>(v: T): T => structuredClone(v);

/** Applies the operations in order to a copy of doc; the first that fails throws JsonPatchError (index and op). */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  const list = checkJsonPatch(ops);
  let out = clone(doc);
  list.forEach((op, i) => {
    try {
      out = applyOne(out, op);
    } catch (e) {
      throw e instanceof JsonPatchError ? e : new JsonPatchError(i, op, (e as Error).message);
    }
  });
  return out;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else parent[key] = value;
  return doc;
}

function remove(doc: unknown, pointer: string): { doc: unknown; removed: unknown } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new Error("cannot remove the whole document");
  const { parent, key } = parentOf(doc, tokens, pointer);
  const removed = child(parent, key, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1);
  else delete parent[key];
  return { doc, removed };
}

function applyOne(doc: unknown, op: JsonPatchOp): unknown {
  switch (op.op) {
    case "add":
      return add(doc, op.path, clone(op.value));
    case "remove":
      return remove(doc, op.path).doc;
    case "replace": {
      get(doc, parsePointer(op.path)); // must exist
      const tokens = parsePointer(op.path);
      if (tokens.length === 0) return clone(op.value);
      const { parent, key } = parentOf(doc, tokens, op.path);
      if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = clone(op.value);
      else parent[key] = clone(op.value);
      return doc;
    }
    case "move": {
      if (op.path.startsWith(op.from + "/")) throw new Error(`cannot move ${op.from} into its own child ${op.path}`);
      const { doc: rest, removed } = remove(doc, op.from);
      return add(rest, op.path, removed);
    }
    case "copy":
      return add(doc, op.path, clone(get(doc, parsePointer(op.from))));
    case "test": {
      const actual = get(doc, parsePointer(op.path));
      if (!deepEqual(actual, op.value)) throw new Error(`test failed: ${op.path} is ${JSON.stringify(actual)}, not ${JSON.stringify(op.value)}`);
      return doc;
    }
  }
}
