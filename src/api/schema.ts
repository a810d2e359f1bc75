// The machine API schema at run time: encode/decode any message by name, the
// method table of a service, and google.protobuf.Any/Timestamp helpers. From
// tables scripts/gen-proto.ts generates (src/api/gen/codec.ts), with minos's
// own codec (src/api/codec.ts): no .proto parser and no protobufjs in the
// node. Building protobufjs's reflection of the whole API at import cost PID 1
// 11–15 ms before its API answered, and loading protobufjs ~12 MiB of RSS.
import type protobuf from "protobufjs/light.js";
import { createCodec } from "./codec.ts";
import { ENUMS, MESSAGES, METHODS } from "./gen/codec.ts";
import type { Services, google } from "./gen/types.ts";

/**
 * How decoded messages look: snake_case keys, enums by name, defaults filled
 * in, 64-bit ints as numbers while exact; past 2^53 (etcd member ids are
 * random uint64s) as decimal strings, so a value is never silently rounded.
 * src/api/codec.ts does it from generated tables, without protobufjs.
 */
const codec = createCodec({ messages: MESSAGES, enums: ENUMS });

/** A message's fields as the codec sees them (names, numbers, kinds, enum values). */
export const messageDesc = codec.message;

let reflected: { lookupType(name: string): protobuf.Type } | undefined;

/**
 * The protobufjs Type of a message, for tests that compare with protobufjs or
 * drive it. PID 1 never calls it: protobufjs and the JSON schema are loaded
 * only here (a synchronous require, so the bundle evaluates them on demand).
 */
export function messageType(name: string): protobuf.Type {
  if (!reflected) {
    const { lazyRoot } = require("../lib/lazy-root.ts") as typeof import("../lib/lazy-root.ts");
    const { DEPS, SCHEMA } = require("./gen/schema.ts") as typeof import("./gen/schema.ts");
    reflected = lazyRoot(SCHEMA, DEPS);
  }
  return reflected.lookupType(name);
}

/** Encodes a plain object (missing fields are defaults; enums by name or number). */
export function encode(typeName: string, value: object): Uint8Array {
  return codec.encode(typeName, value);
}

export function decode<T>(typeName: string, bytes: Uint8Array): T {
  return codec.decode<T>(typeName, bytes);
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
