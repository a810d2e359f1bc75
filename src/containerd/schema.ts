// containerd's API schema at run time (from the generated JSON in gen/schema.ts,
// protobufjs light build: no .proto parser in the binary): encode/decode by
// message name, method paths, and the Any that carries an OCI spec.
// Message types are built at first use (src/lib/lazy-root.ts), not all at import.
import type protobuf from "protobufjs/light.js";
import { lazyRoot, type LazyRoot } from "../lib/lazy-root.ts";
import type { Services, google } from "./gen/types.ts";

type Generated = typeof import("./gen/schema.ts");
let generated: Generated | undefined;
let lazy: LazyRoot | undefined;

/**
 * The generated schema (~110 KB of object literals), evaluated at the first
 * call rather than at PID 1's start: a synchronous require, as in
 * src/api/schema.ts. Nodes that never call containerd never build it.
 */
function schema(): Generated {
  generated ??= require("./gen/schema.ts") as Generated;
  return generated;
}

const root = {
  lookupType(name: string): protobuf.Type {
    lazy ??= lazyRoot(schema().SCHEMA, schema().DEPS);
    return lazy.lookupType(name);
  },
};

/** Decoded messages: snake_case keys, enums by name, 64-bit ints as numbers, defaults filled in. */
const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };

function messageType(name: string): protobuf.Type {
  return root.lookupType(name);
}

export function encode(typeName: string, value: object): Uint8Array {
  const t = messageType(typeName);
  return t.encode(t.fromObject(value as Record<string, unknown>)).finish();
}

export function decode<T>(typeName: string, bytes: Uint8Array): T {
  const t = messageType(typeName);
  return t.toObject(t.decode(bytes), OBJECT_OPTIONS) as T;
}

export type ServiceName = keyof Services;
export type MethodName<S extends ServiceName> = keyof Services[S] & string;
export type Req<S extends ServiceName, M extends MethodName<S>> = Services[S][M] extends { req: infer Q } ? Q : never;
export type Res<S extends ServiceName, M extends MethodName<S>> = Services[S][M] extends { res: infer R } ? R : never;

export interface MethodInfo {
  path: string;
  requestType: string;
  responseType: string;
}

const methodCache = new Map<string, MethodInfo>();

export function methodInfo(service: ServiceName, method: string): MethodInfo {
  const key = `${service}/${method}`;
  let info = methodCache.get(key);
  if (!info) {
    const m = schema().METHODS[service]?.find((x) => x.name === method);
    if (!m) throw new Error(`no method ${key}`);
    info = { path: `/${key}`, requestType: m.requestType, responseType: m.responseType };
    methodCache.set(key, info);
  }
  return info;
}

/**
 * A request as callers write it: every field optional (protobufjs fills
 * defaults when encoding), recursively; maps stay plain records.
 */
export type Msg<T> = {
  [K in keyof T]?: T[K] extends Uint8Array
    ? Uint8Array
    : T[K] extends (infer U)[]
      ? [U] extends [object]
        ? Msg<U>[]
        : U[]
      : T[K] extends object | null
        ? Msg<NonNullable<T[K]>> | null
        : T[K];
};

/** containerd stores non-protobuf values (the OCI spec) as JSON under this type URL. */
export const OCI_SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
/** An exec'd process's spec. */
export const OCI_PROCESS_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process";

/** JSON inside an Any, the way containerd's typeurl packs Go structs that are not protobuf messages. */
export function packJson(typeUrl: string, value: unknown): google.protobuf.Any {
  return { type_url: typeUrl, value: new TextEncoder().encode(JSON.stringify(value)) };
}

export function unpackJson<T>(any: google.protobuf.Any | null | undefined): T | undefined {
  if (!any || any.value.length === 0) return undefined;
  return JSON.parse(new TextDecoder().decode(any.value)) as T;
}

/** A protobuf Any decoded by the message name in its type URL; undefined for a type this schema lacks. */
export function decodeAny<T>(any: google.protobuf.Any | null | undefined): T | undefined {
  if (!any) return undefined;
  const name = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
  try {
    messageType(name);
  } catch {
    return undefined;
  }
  return decode<T>(name, any.value);
}

export function fromTimestamp(t: google.protobuf.Timestamp | null | undefined): Date | undefined {
  if (!t) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor(Number(t.nanos) / 1e6));
}
