// Machine config patches with Talos's semantics (configpatcher):
//
// - a JSON patch (RFC 6902): a JSON or YAML list of operations, for a
//   single-document config only;
// - a strategic merge patch: partial config documents, each merged into the
//   document of the same identity (v1alpha1, or apiVersion/kind/name), new
//   ones appended. Maps merge key by key; lists append, except those Talos
//   merges by a key (network interfaces by `interface` or `deviceSelector`,
//   VLANs by `vlanId`, admission plugins by `name`, extension config files by
//   `mountPath`) or replaces (pod/service subnets, the audit policy, extraArgs
//   values); `$patch: delete` removes a key, a list element (matched by its
//   first other key) or a whole document.
//
// Everything works on YAML text in and out; the caller validates the result
// with parseConfigDocuments before using it.
import { yamlLib } from "./yaml-lib.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { applyJsonPatch, checkJsonPatch, type JsonPatchOp } from "./jsonpatch.ts";
import { CONFIG_LIMITS, decodeConfigText, parseYamlDocuments } from "./yaml.ts";

export type ConfigPatch = { kind: "json"; ops: JsonPatchOp[] } | { kind: "strategic"; documents: Record<string, unknown>[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function yamlDocs(text: string, what: string): unknown[] {
  const docs = parseYamlDocuments(decodeConfigText(text, CONFIG_LIMITS), CONFIG_LIMITS);
  const errors = docs.flatMap((d) => d.errors);
  if (errors.length) throw new InvalidArgumentError(`${what}: ${errors.join("; ")}`);
  return docs.map((d) => d.value).filter((v, _i, all) => v !== null || all.length === 1);
}

/** A patch's text: a list of operations is a JSON patch, maps are strategic merge documents. */
export function loadPatch(text: string, what = "patch"): ConfigPatch {
  const docs = yamlDocs(text, what);
  if (docs.length === 1 && Array.isArray(docs[0])) {
    try {
      return { kind: "json", ops: checkJsonPatch(docs[0]) };
    } catch (e) {
      throw new InvalidArgumentError(`${what}: ${(e as Error).message}`);
    }
  }
  const bad = docs.findIndex((d) => !isObj(d));
  if (bad >= 0) throw new InvalidArgumentError(`${what}: document[${bad}] is neither a list of JSON patch operations nor a map (a strategic merge patch)`);
  return { kind: "strategic", documents: docs as Obj[] };
}

/** Talos's document identity: the v1alpha1 document, or apiVersion/kind[/name]. */
function documentId(doc: Obj): string {
  if (doc.kind === undefined && doc.apiVersion === undefined) return "v1alpha1";
  return `${String(doc.apiVersion)}/${String(doc.kind)}${typeof doc.name === "string" ? `/${doc.name}` : ""}`;
}

/** Lists merged element by element on a key instead of appended (Talos's custom Merge methods). */
const KEYED_LISTS: Array<{ path: RegExp; keys: string[] }> = [
  { path: /^machine\.network\.interfaces$/, keys: ["interface", "deviceSelector"] },
  { path: /^machine\.network\.interfaces\[\]\.vlans$/, keys: ["vlanId"] },
  { path: /^cluster\.apiServer\.admissionControl$/, keys: ["name"] },
  { path: /^configFiles$/, keys: ["mountPath"] },
];
/** Values replaced whole (merge:"replace" in Talos's types; meta.Args copies each key). */
const REPLACED: RegExp[] = [/^cluster\.network\.podSubnets$/, /^cluster\.network\.serviceSubnets$/, /^cluster\.apiServer\.auditPolicy$/, /\.extraArgs\.[^.]+$/];

const isDelete = (v: unknown): boolean => isObj(v) && v.$patch === "delete";

function sameOn(a: unknown, b: unknown, key: string): boolean {
  if (!isObj(a) || !isObj(b) || a[key] === undefined || b[key] === undefined) return false;
  return JSON.stringify(a[key]) === JSON.stringify(b[key]);
}

/** Merges right into left (a copy is returned); `path` is the dotted path without list indexes ("[]"). */
function merge(left: unknown, right: unknown, path: string): unknown {
  if (right === null || right === undefined) return left;
  if (REPLACED.some((r) => r.test(path))) return structuredClone(right);
  if (isObj(left) && isObj(right)) {
    const out: Obj = { ...left };
    for (const [k, v] of Object.entries(right)) {
      if (k === "__proto__") continue;
      const p = path ? `${path}.${k}` : k;
      if (isDelete(v)) delete out[k];
      else out[k] = Object.hasOwn(out, k) ? merge(out[k], v, p) : stripDeletes(v);
    }
    return out;
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    const keyed = KEYED_LISTS.find((l) => l.path.test(path));
    let out = [...left];
    for (const item of right) {
      if (isDelete(item)) {
        const sel = Object.keys(item as Obj).find((k) => k !== "$patch");
        if (sel === undefined) throw new InvalidArgumentError(`patch: ${path}: "$patch: delete" in a list needs a key to match (e.g. interface: eth0)`);
        out = out.filter((x) => !sameOn(x, item, sel));
        continue;
      }
      const key = keyed?.keys.find((k) => isObj(item) && item[k] !== undefined);
      const at = key === undefined ? -1 : out.findIndex((x) => sameOn(x, item, key));
      if (at >= 0) out[at] = merge(out[at], item, `${path}[]`);
      else out.push(stripDeletes(item));
    }
    return out;
  }
  return structuredClone(right);
}

/** A value new to the config keeps no `$patch: delete` markers inside it. */
function stripDeletes(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !isDelete(x)).map(stripDeletes);
  if (isObj(v))
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => !isDelete(x))
        .map(([k, x]) => [k, stripDeletes(x)]),
    );
  return v;
}

/** Applies patches in order to a (multi-document) config's YAML; returns the patched YAML. Throws InvalidArgumentError. */
export function applyPatches(configYaml: string, patches: readonly ConfigPatch[]): string {
  const parsed = yamlDocs(configYaml, "config").filter((d) => d !== null);
  const bad = parsed.findIndex((d) => !isObj(d));
  if (bad >= 0) throw new InvalidArgumentError(`config: document[${bad}] is not a map`);
  let docs = parsed as Obj[];
  for (const p of patches) {
    if (p.kind === "json") {
      if (docs.length !== 1) throw new InvalidArgumentError("JSON patches are not supported for a multi-document machine config (use a strategic merge patch)");
      try {
        const out = applyJsonPatch(docs[0], p.ops);
        if (!isObj(out)) throw new Error("the patched config is not a map");
        docs = [out];
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
      continue;
    }
    for (const right of p.documents) {
      const id = documentId(right);
      const at = docs.findIndex((d) => documentId(d) === id);
      if (right.$patch === "delete") {
        if (at >= 0) docs.splice(at, 1);
        continue;
      }
      if (at >= 0) docs[at] = merge(docs[at], right, "") as Obj;
      else docs.push(stripDeletes(right) as Obj);
    }
  }
  return docs.map((d) => yamlLib().stringify(d, { lineWidth: 0 })).join("---\n");
}

/**
 * A --patch / --config-patch argument as talosctl takes it: `@FILE`, inline
 * YAML/JSON, or (no space, newline, `[` or `{`) a file name.
 */
export function patchSource(arg: string, readFile: (path: string) => string): { text: string; what: string } {
  if (arg.startsWith("@")) return { text: readFile(arg.slice(1)), what: arg.slice(1) };
  if (!/[\n ]/.test(arg) && !arg.startsWith("[") && !arg.startsWith("{")) return { text: readFile(arg), what: arg };
  return { text: arg, what: "inline patch" };
}
