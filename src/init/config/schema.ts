// A small strict schema walker for the machine config: every value is checked
// against its declared shape, unknown keys are errors, defaults are filled in,
// and every error names its YAML path ("machine.sysctls.foo: expected string,
// got number"). Hand-written rather than a library (ajv, zod): ~100 lines give
// exactly Talos-style path messages and no dependency in PID 1's bundle.

export type Schema =
  | { kind: "string"; oneOf?: readonly string[]; check?: (v: string) => string | undefined }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "bool" }
  | { kind: "list"; of: Schema }
  | { kind: "map"; of: Schema }
  | { kind: "object"; fields: Record<string, Field> };

export interface Field {
  schema: Schema;
  required?: boolean;
  /** Filled in when the key is absent (a function, so each config gets its own copy). */
  default?: () => unknown;
}

export const str = (extra: Omit<Extract<Schema, { kind: "string" }>, "kind"> = {}): Schema => ({ kind: "string", ...extra });
export const int = (extra: Omit<Extract<Schema, { kind: "int" }>, "kind"> = {}): Schema => ({ kind: "int", ...extra });
export const bool = (): Schema => ({ kind: "bool" });
export const list = (of: Schema): Schema => ({ kind: "list", of });
export const map = (of: Schema): Schema => ({ kind: "map", of });
export const obj = (fields: Record<string, Field>): Schema => ({ kind: "object", fields });
export const opt = (schema: Schema, dflt?: () => unknown): Field => (dflt ? { schema, default: dflt } : { schema });
export const req = (schema: Schema): Field => ({ schema, required: true });

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

/** Validates `value`; returns the value with defaults filled, appending "path: problem" to `errors`. */
export function validate(value: unknown, schema: Schema, path: string, errors: string[]): unknown {
  const where = path || "(document)";
  switch (schema.kind) {
    case "string": {
      if (typeof value !== "string") return void errors.push(`${where}: expected string, got ${typeName(value)}`);
      if (schema.oneOf && !schema.oneOf.includes(value)) {
        return void errors.push(`${where}: expected one of ${schema.oneOf.join(", ")}, got "${value}"`);
      }
      const problem = schema.check?.(value);
      if (problem) errors.push(`${where}: ${problem}`);
      return value;
    }
    case "int": {
      if (typeof value !== "number" || !Number.isInteger(value)) return void errors.push(`${where}: expected integer, got ${typeName(value)}`);
      if (schema.min !== undefined && value < schema.min) errors.push(`${where}: must be at least ${schema.min}, got ${value}`);
      if (schema.max !== undefined && value > schema.max) errors.push(`${where}: must be at most ${schema.max}, got ${value}`);
      return value;
    }
    case "bool":
      if (typeof value !== "boolean") return void errors.push(`${where}: expected boolean, got ${typeName(value)}`);
      return value;
    case "list":
      if (!Array.isArray(value)) return void errors.push(`${where}: expected list, got ${typeName(value)}`);
      return value.map((item, i) => validate(item, schema.of, joinPath(path, i), errors));
    case "map": {
      if (!isPlainMap(value)) return void errors.push(`${where}: expected map, got ${typeName(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = validate(v, schema.of, joinPath(path, k), errors);
      return out;
    }
    case "object": {
      if (!isPlainMap(value)) return void errors.push(`${where}: expected map, got ${typeName(value)}`);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(value)) {
        if (!(k in schema.fields)) errors.push(`${joinPath(path, k)}: unknown key (known: ${Object.keys(schema.fields).join(", ")})`);
      }
      for (const [k, field] of Object.entries(schema.fields)) {
        const v = value[k];
        if (v === undefined || v === null) {
          if (field.required) errors.push(`${joinPath(path, k)}: required`);
          // Defaults go through the schema too, so `() => ({})` fills a whole section.
          else if (field.default) out[k] = validate(field.default(), field.schema, joinPath(path, k), errors);
          continue;
        }
        out[k] = validate(v, field.schema, joinPath(path, k), errors);
      }
      return out;
    }
  }
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
