// A strict, typed schema walker for machine-config documents.
//
// Why our own and not valibot (which does work inside a Bun-compiled binary and
// infers TS types): the config needs four things from ONE walk over the data —
// (1) Talos-style messages naming the YAML path in the words init has always
// printed ("machine.sysctls.foo: expected string, got number", "…: unknown key
// (known: …)"), (2) a warning for every key minos type-checks and stores but
// does not apply, which means every field carries an applied/accepted tag that
// the walk consults, (3) a listing of every key path with its type and state
// for docs/config-keys.md, and (4) free-form maps built on null-prototype
// objects with `__proto__`-style keys refused. valibot would give (1) only after
// translating its issues, and (2)-(4) through metadata plus a second walk of
// our own; the walker below is ~200 lines, infers the config's TS type from the
// same definitions (`Infer<typeof SCHEMA>`), and adds no dependency to PID 1.

import type { Check } from "./checks.ts";

/** applied: minos implements it. accepted: type-checked and stored, not applied. mixed: a section whose keys say. */
export type State = "applied" | "accepted" | "mixed";

export type Spec =
  | { kind: "string"; oneOf?: readonly string[]; check?: Check; label?: string }
  | { kind: "int"; min?: number; max?: number; label?: string }
  | { kind: "bool" }
  | { kind: "list"; of: Schema }
  | { kind: "map"; of: Schema }
  | { kind: "object"; fields: Fields }
  | { kind: "any" }
  | { kind: "intOrString"; check: Check; min?: number; max?: number; label: string };

/** A schema for values of type T (T is only for inference; `_t` is never set). */
export interface Schema<T = unknown> {
  readonly spec: Spec;
  readonly _t?: T;
}

export type Presence = "required" | "defaulted" | "optional";

export interface Field<T = unknown, P extends Presence = Presence> {
  readonly schema: Schema<T>;
  readonly presence: P;
  readonly state: State;
  /** Filled in when the key is absent (a function, so each config gets its own copy); goes through the schema too. */
  readonly default?: () => unknown;
  /** Shown in the keys table: deprecated in Talos, newer than 1.7, what minos does with it. */
  readonly note?: string;
}

export type Fields = Record<string, Field>;

export type Infer<S> = S extends Schema<infer T> ? T : never;
type Flat<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<F extends Fields> = Flat<
  { [K in keyof F as F[K]["presence"] extends "optional" ? never : K]: Infer<F[K]["schema"]> } & {
    [K in keyof F as F[K]["presence"] extends "optional" ? K : never]?: Infer<F[K]["schema"]>;
  }
>;

interface StrOptions {
  check?: Check;
  label?: string;
}
export const str = (o: StrOptions = {}): Schema<string> => ({ spec: { kind: "string", ...o } });
export const oneOf = <const V extends readonly string[]>(values: V): Schema<V[number]> => ({ spec: { kind: "string", oneOf: values } });
export const int = (o: { min?: number; max?: number; label?: string } = {}): Schema<number> => ({ spec: { kind: "int", ...o } });
export const uint = (bits: 8 | 16 | 32 | 64): Schema<number> =>
  int({ min: 0, max: bits === 64 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1, label: `uint${bits}` });
export const bool = (): Schema<boolean> => ({ spec: { kind: "bool" } });
export const list = <T>(of: Schema<T>): Schema<T[]> => ({ spec: { kind: "list", of } });
/** A map with free-form keys (sysctls, env, extraArgs): a null-prototype object. */
export const map = <T>(of: Schema<T>): Schema<Record<string, T>> => ({ spec: { kind: "map", of } });
export const obj = <F extends Fields>(fields: F): Schema<ObjectOf<F>> => ({ spec: { kind: "object", fields } });
/** Talos's `Unstructured`: any YAML value, kept as is. */
export const any = (): Schema<unknown> => ({ spec: { kind: "any" } });
/** A YAML int or a string the check accepts (Talos decodes both into one Go type: sizes, port ranges). */
export const intOrString = (check: Check, label: string, range: { min?: number; max?: number } = {}): Schema<number | string> => ({
  spec: { kind: "intOrString", check, label, ...range },
});

interface FieldOptions {
  note?: string;
}
export const applied = <T>(schema: Schema<T>, o: FieldOptions = {}): Field<T, "optional"> => ({ schema, presence: "optional", state: "applied", ...o });
export const appliedDefault = <T>(schema: Schema<T>, dflt: () => unknown, o: FieldOptions = {}): Field<T, "defaulted"> => ({
  schema,
  presence: "defaulted",
  state: "applied",
  default: dflt,
  ...o,
});
export const appliedRequired = <T>(schema: Schema<T>, o: FieldOptions = {}): Field<T, "required"> => ({ schema, presence: "required", state: "applied", ...o });
export const accepted = <T>(schema: Schema<T>, o: FieldOptions = {}): Field<T, "optional"> => ({ schema, presence: "optional", state: "accepted", ...o });
export const acceptedRequired = <T>(schema: Schema<T>, o: FieldOptions = {}): Field<T, "required"> => ({
  schema,
  presence: "required",
  state: "accepted",
  ...o,
});
/** A section whose own keys carry the state. */
export const section = <T>(schema: Schema<T>, o: FieldOptions = {}): Field<T, "optional"> => ({ schema, presence: "optional", state: "mixed", ...o });
export const sectionDefault = <T>(schema: Schema<T>, dflt: () => unknown, o: FieldOptions = {}): Field<T, "defaulted"> => ({
  schema,
  presence: "defaulted",
  state: "mixed",
  default: dflt,
  ...o,
});

/** Keys that would reach Object.prototype's members in an ordinary object: refused in free-form maps. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype", "toString", "hasOwnProperty"]);

/** What YAML gave us, in the words of the error messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (typeof v === "object") return "map";
  return typeof v;
}

/** `machine.sysctls["net.ipv4.ip_forward"]`: keys with dots or spaces are quoted so the path stays unambiguous. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  const safe = /^[A-Za-z_][\w-]*$/.test(key);
  if (!safe) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

export interface Findings {
  errors: string[];
  /** One per accepted-but-not-applied key present, naming its path. */
  warnings: string[];
}

export const NOT_APPLIED = "accepted, not applied";

/**
 * Validates `value` against `schema` at `path` whose effective state is `state`;
 * returns the value with defaults filled (undefined after a type error).
 */
export function validate(value: unknown, schema: Schema, path: string, state: State, out: Findings): unknown {
  const where = path || "(document)";
  const spec = schema.spec;
  switch (spec.kind) {
    case "string": {
      if (typeof value !== "string") return void out.errors.push(`${where}: expected string, got ${typeName(value)}`);
      if (spec.oneOf && !spec.oneOf.includes(value)) return void out.errors.push(`${where}: expected one of ${spec.oneOf.join(", ")}, got "${value}"`);
      const problem = spec.check?.(value);
      if (problem) out.errors.push(`${where}: ${problem}`);
      return value;
    }
    case "int": {
      if (typeof value !== "number" || !Number.isInteger(value)) return void out.errors.push(`${where}: expected integer, got ${typeName(value)}`);
      checkRange(value, spec, where, out);
      return value;
    }
    case "intOrString": {
      if (typeof value === "number" && Number.isInteger(value)) {
        checkRange(value, spec, where, out);
        return value;
      }
      if (typeof value !== "string") return void out.errors.push(`${where}: expected ${spec.label}, got ${typeName(value)}`);
      const problem = spec.check(value);
      if (problem) out.errors.push(`${where}: ${problem}`);
      return value;
    }
    case "bool":
      if (typeof value !== "boolean") return void out.errors.push(`${where}: expected boolean, got ${typeName(value)}`);
      return value;
    case "any":
      return value;
    case "list":
      if (!Array.isArray(value)) return void out.errors.push(`${where}: expected list, got ${typeName(value)}`);
      return value.map((item, i) => validate(item, spec.of, joinPath(path, i), state, out));
    case "map": {
      if (!isMap(value)) return void out.errors.push(`${where}: expected map, got ${typeName(value)}`);
      const result: Record<string, unknown> = Object.create(null);
      for (const k of Object.keys(value)) {
        if (FORBIDDEN_KEYS.has(k)) {
          out.errors.push(`${joinPath(path, k)}: the key "${k}" is not allowed`);
          continue;
        }
        result[k] = validate(value[k], spec.of, joinPath(path, k), state, out);
      }
      return result;
    }
    case "object": {
      if (!isMap(value)) return void out.errors.push(`${where}: expected map, got ${typeName(value)}`);
      const result: Record<string, unknown> = {};
      for (const k of Object.keys(value)) {
        if (!Object.hasOwn(spec.fields, k)) out.errors.push(`${joinPath(path, k)}: unknown key (known: ${Object.keys(spec.fields).join(", ")})`);
      }
      for (const [k, field] of Object.entries(spec.fields)) {
        const v = Object.hasOwn(value, k) ? value[k] : undefined;
        const fieldPath = joinPath(path, k);
        const fieldState = state === "accepted" ? "accepted" : field.state;
        if (v === undefined || v === null) {
          if (field.presence === "required") out.errors.push(`${fieldPath}: required`);
          // Defaults go through the schema too, so `() => ({})` fills a whole section.
          else if (field.default) result[k] = validate(field.default(), field.schema, fieldPath, fieldState, { errors: out.errors, warnings: [] });
          continue;
        }
        if (fieldState === "accepted" && state !== "accepted") out.warnings.push(`${fieldPath}: ${NOT_APPLIED}`);
        result[k] = validate(v, field.schema, fieldPath, fieldState, out);
      }
      return result;
    }
  }
}

function checkRange(value: number, spec: { min?: number; max?: number }, where: string, out: Findings): void {
  if (spec.min !== undefined && value < spec.min) out.errors.push(`${where}: must be at least ${spec.min}, got ${value}`);
  if (spec.max !== undefined && value > spec.max) out.errors.push(`${where}: must be at most ${spec.max}, got ${value}`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface KeyRow {
  /** `machine.network.interfaces[].routes[].gateway`, `machine.sysctls.*`. */
  path: string;
  type: string;
  state: "applied" | "accepted" | "mixed";
  presence: Presence;
  note?: string;
}

/** Every key path under `schema`, depth first in declaration order. */
export function listKeys(schema: Schema, prefix = "", state: State = "mixed"): KeyRow[] {
  const rows: KeyRow[] = [];
  const spec = containerOf(schema);
  if (spec.kind !== "object") return rows;
  for (const [k, field] of Object.entries(spec.fields)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const eff = state === "accepted" ? "accepted" : field.state;
    const row: KeyRow = { path: path + suffixOf(field.schema), type: typeLabel(field.schema), state: eff, presence: field.presence };
    if (field.note) row.note = field.note;
    rows.push(row);
    rows.push(...listKeys(field.schema, path + suffixOf(field.schema), eff));
  }
  return rows;
}

/** The object a field's keys live in, looking through lists and maps. */
function containerOf(schema: Schema): Spec {
  const s = schema.spec;
  if (s.kind === "list" || s.kind === "map") return containerOf(s.of);
  return s;
}

function suffixOf(schema: Schema): string {
  const s = schema.spec;
  if (s.kind === "list") return `[]${suffixOf(s.of)}`;
  if (s.kind === "map") return `.*${suffixOf(s.of)}`;
  return "";
}

export function typeLabel(schema: Schema): string {
  const s = schema.spec;
  switch (s.kind) {
    case "string":
      if (s.oneOf) return `one of ${s.oneOf.join(" \\| ")}`;
      return s.label ?? "string";
    case "int":
      return s.label ?? "int";
    case "intOrString":
      return s.label;
    case "bool":
      return "bool";
    case "any":
      return "any YAML";
    case "list":
      return `list of ${typeLabel(s.of)}`;
    case "map":
      return `map of ${typeLabel(s.of)}`;
    case "object":
      return "object";
  }
}
