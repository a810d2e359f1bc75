// The machine API schema at run time: encode/decode any message by name, the
// method table of a service, and google.protobuf.Any/Timestamp helpers. Built
// from the generated JSON (src/api/gen/schema.ts) with protobufjs's light
// build: no .proto parser inside the node. Each message type is built the
// first time it is used (src/lib/lazy-root.ts), not the whole API at import:
// that cost PID 1 11–15 ms before its API answered.
import protobuf from "protobufjs/light.js";
import { lazyRoot } from "../lib/lazy-root.ts";
import { DEPS, METHODS, SCHEMA } from "./gen/schema.ts";
import type { Services, google } from "./gen/types.ts";

const root = lazyRoot(SCHEMA, DEPS);

/**
 * How decoded messages look: snake_case keys, enums by name, defaults filled
 * in, 64-bit ints as numbers while exact; past 2^53 (etcd member ids are
 * random uint64s) as decimal strings, so a value is never silently rounded.
 */
const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };
const EXACT_OPTIONS: protobuf.IConversionOptions = { ...OBJECT_OPTIONS, longs: String };
const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Whether a message type has a 64-bit field anywhere below it (the etcd ones do); cached. */
const longsBelow = new Map<protobuf.Type, boolean>();
function hasLongs(t: protobuf.Type, seen = new Set<protobuf.Type>()): boolean {
  const hit = longsBelow.get(t);
  if (hit !== undefined) return hit;
  if (seen.has(t)) return false;
  seen.add(t);
  const r = t.fieldsArray.some((f) => {
    const rt = f.resolve().resolvedType;
    return LONG_TYPES.has(f.type) || (rt instanceof protobuf.Type && hasLongs(rt, seen));
  });
  longsBelow.set(t, r);
  return r;
}

/** Turns decimal-string longs back into numbers where that is exact. */
function numbersWhereExact(t: protobuf.Type, obj: Record<string, unknown>): void {
  for (const f of t.fieldsArray) {
    const v = obj[f.name];
    if (v === null || v === undefined) continue;
    const one = (x: unknown): unknown => {
      if (LONG_TYPES.has(f.type) && typeof x === "string") return Number.isSafeInteger(Number(x)) ? Number(x) : x;
      if (f.resolvedType instanceof protobuf.Type && typeof x === "object" && x !== null && hasLongs(f.resolvedType))
        numbersWhereExact(f.resolvedType, x as Record<string, unknown>);
      return x;
    };
    obj[f.name] = Array.isArray(v) ? v.map(one) : one(v);
  }
}

export function messageType(name: string): protobuf.Type {
  return root.lookupType(name);
}

/** Encodes a plain object (missing fields are defaults; enums by name or number). */
export function encode(typeName: string, value: object): Uint8Array {
  const t = messageType(typeName);
  return t.encode(t.fromObject(value as Record<string, unknown>)).finish();
}

export function decode<T>(typeName: string, bytes: Uint8Array): T {
  const t = messageType(typeName);
  if (!hasLongs(t)) return t.toObject(t.decode(bytes), OBJECT_OPTIONS) as T;
  const obj = t.toObject(t.decode(bytes), EXACT_OPTIONS);
  numbersWhereExact(t, obj);
  return obj as T;
}

export interface MethodInfo {
  name: string;
  /** The HTTP/2 path: /package.Service/Method. */
  path: string;
  requestType: string;
  responseType: string;
  clientStream: boolean;
  serverStream: boolean;
}

export type ServiceName = keyof Services;

/** From the generated table: a method table builds no message types (they are built at the first call). */
export function serviceMethods(service: ServiceName): MethodInfo[] {
  const rows = METHODS[service];
  if (!rows) throw new Error(`no service ${service}`);
  return rows.map((m) => ({ ...m, path: `/${service}/${m.name}` }));
}

export function methodInfo(service: ServiceName, method: string): MethodInfo {
  const m = serviceMethods(service).find((x) => x.name === method);
  if (!m) throw new Error(`no method ${service}/${method}`);
  return m;
}

/** Talos prefixes event payload type URLs with "talos/runtime/"; talosctl matches on that. */
export const TALOS_TYPE_PREFIX = "talos/runtime/";
export const MINOS_TYPE_PREFIX = "minos/runtime/";

export function packAny(typeName: string, value: object): google.protobuf.Any {
  const prefix = typeName.startsWith("minos.") ? MINOS_TYPE_PREFIX : TALOS_TYPE_PREFIX;
  return { type_url: prefix + typeName, value: encode(typeName, value) };
}

/** The message name inside an Any's type URL (the part after the last "/"). */
export function anyTypeName(any: google.protobuf.Any): string {
  return any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
}

export function unpackAny<T>(any: google.protobuf.Any): T {
  return decode<T>(anyTypeName(any), any.value);
}

export function toTimestamp(d: Date): google.protobuf.Timestamp {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

export function fromTimestamp(t: google.protobuf.Timestamp | null | undefined): Date | undefined {
  if (!t) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor(Number(t.nanos) / 1e6));
}
