// bun run gen:proto [outDir]: regenerates src/api/gen/ from src/api/proto/*.proto
// (and, without outDir, src/containerd/gen/ from src/containerd/proto/).
//
// Outputs (never edit them by hand; the api-gen test regenerates and compares):
//   schema.ts      the parsed schema as protobufjs JSON and which top-level
//                  definitions each one uses (DEPS: src/lib/lazy-root.ts builds
//                  only what is asked for); for tests and tools that use
//                  protobufjs (containerd's also carries METHODS: its client
//                  encodes with protobufjs).
//   codec.ts       every message's fields with resolved types and every enum
//                  (what src/api/codec.ts, the node's own encoder/decoder,
//                  works from) and every service's method table (METHODS).
//   reflection.ts  the FileDescriptorSet (what server reflection hands to
//                  grpcurl), one file per .proto, with correct names and
//                  dependencies; a module of its own so the node loads it only
//                  when a reflection client asks.
//   types.ts       TypeScript shapes of every message (as protobufjs toObject
//                  yields them: snake_case keys, enums as names, 64-bit ints
//                  as numbers) and a typed method table per service.
//
// protobufjs's own Root#toDescriptor groups by package rather than by file and
// writes no dependencies, which reflection clients reject; so files are
// assembled here, reusing its per-type converters.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor";

export const PROTO_DIR = "src/api/proto";
/** containerd's API as minos writes it: a client only, so no reflection tables. */
export const CONTAINERD_PROTO_DIR = "src/containerd/proto";

function protoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...protoFiles(p));
    else if (name.endsWith(".proto")) out.push(p);
  }
  return out;
}

interface ParsedFile {
  name: string; // import path, e.g. "machine/machine.proto"
  pkg: string;
  imports: string[];
  topLevel: string[]; // full names (no leading dot) of what the file defines
}

type Json = Record<string, unknown>;
/** ext/descriptor's message classes (its .d.ts declares only their interfaces). */
type Converter = { toObject(m: object): Json };

const SCALARS = new Set(["double", "float", "int32", "uint32", "sint32", "fixed32", "sfixed32", "int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Descriptors must name types fully qualified, and carry `packed` only where proto3 allows it. */
function fixMessage(d: Json, type: protobuf.Type): void {
  for (const fd of (d.field as Json[]) ?? []) {
    const field = type.fields[fd.name as string];
    if (!field) continue;
    if (field.resolvedType) fd.typeName = field.resolvedType.fullName;
    const opts = fd.options as Json | undefined;
    if (opts) {
      delete opts.packed;
      if (Object.keys(opts).length === 0) delete fd.options;
    }
    delete fd.jsonName;
    if (fd.proto3Optional === false) delete fd.proto3Optional;
  }
  for (const nd of (d.nestedType as Json[]) ?? []) {
    const nested = type.nested?.[nd.name as string];
    if (nested instanceof protobuf.Type) fixMessage(nd, nested);
  }
}

function parseFile(path: string, root: protobuf.Root, protoDir: string): ParsedFile {
  const source = readFileSync(path, "utf8");
  const own = protobuf.parse(source, new protobuf.Root(), { keepCase: true });
  protobuf.parse(source, root, { keepCase: true });
  const pkg = own.package ?? "";
  const ns = pkg ? own.root.lookup(pkg) : own.root;
  if (!(ns instanceof protobuf.Namespace)) throw new Error(`${path}: package ${pkg} not found`);
  const topLevel = ns.nestedArray
    .filter((n) => n instanceof protobuf.Type || n instanceof protobuf.Enum || n instanceof protobuf.Service)
    .map((n) => n.fullName.slice(1));
  return { name: relative(protoDir, path), pkg, imports: own.imports ?? [], topLevel };
}

function fileDescriptor(f: ParsedFile, root: protobuf.Root): Json {
  const file: Json = { name: f.name, package: f.pkg, dependency: f.imports, messageType: [], enumType: [], service: [], syntax: "proto3" };
  for (const full of f.topLevel) {
    const obj = root.lookup(full);
    if (obj instanceof protobuf.Type) {
      const d = (obj as unknown as { toDescriptor(e: string): descriptor.IDescriptorProto }).toDescriptor("proto3");
      const plain = (descriptor.DescriptorProto as unknown as Converter).toObject(d) as Json;
      fixMessage(plain, obj);
      (file.messageType as Json[]).push(plain);
    } else if (obj instanceof protobuf.Enum) {
      const d = (obj as unknown as { toDescriptor(): descriptor.IEnumDescriptorProto }).toDescriptor();
      (file.enumType as Json[]).push((descriptor.EnumDescriptorProto as unknown as Converter).toObject(d) as Json);
    } else if (obj instanceof protobuf.Service) {
      const d = (obj as unknown as { toDescriptor(): descriptor.IServiceDescriptorProto }).toDescriptor();
      (file.service as Json[]).push((descriptor.ServiceDescriptorProto as unknown as Converter).toObject(d) as Json);
    }
  }
  return file;
}

// --- TypeScript shapes ---

function tsName(obj: protobuf.ReflectionObject, pkg: string): string {
  // Nested types are flattened with "_" (ApplyConfigurationRequest_Mode) inside their package's namespace.
  const full = obj.fullName.slice(1);
  const inPkg = pkg ? full.slice(pkg.length + 1) : full;
  return inPkg.replace(/\./g, "_");
}

function pkgOf(obj: protobuf.ReflectionObject): string {
  let p = obj.parent;
  while (p && p instanceof protobuf.Type) p = p.parent;
  return p?.fullName ? p.fullName.slice(1) : "";
}

function tsRef(obj: protobuf.ReflectionObject): string {
  const pkg = pkgOf(obj);
  return pkg ? `${pkg}.${tsName(obj, pkg)}` : tsName(obj, pkg);
}

function fieldType(field: protobuf.Field): string {
  if (field.resolvedType instanceof protobuf.Enum) return tsRef(field.resolvedType);
  if (field.resolvedType instanceof protobuf.Type) return tsRef(field.resolvedType);
  if (SCALARS.has(field.type)) return "number";
  if (field.type === "bool") return "boolean";
  if (field.type === "string") return "string";
  if (field.type === "bytes") return "Uint8Array";
  throw new Error(`unsupported field type ${field.type}`);
}

function collect(ns: protobuf.NamespaceBase, out: protobuf.ReflectionObject[]): void {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type || n instanceof protobuf.Enum || n instanceof protobuf.Service) out.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) collect(n as protobuf.NamespaceBase, out);
  }
}

function typesModule(root: protobuf.Root, header: string): string {
  const all: protobuf.ReflectionObject[] = [];
  collect(root, all);
  const byPkg = new Map<string, string[]>();
  const services: string[] = [];
  for (const obj of all) {
    const pkg = pkgOf(obj);
    const lines = byPkg.get(pkg) ?? [];
    byPkg.set(pkg, lines);
    const name = tsName(obj, pkg);
    if (obj instanceof protobuf.Enum) {
      lines.push(
        `  export type ${name} = ${Object.keys(obj.values)
          .map((v) => JSON.stringify(v))
          .join(" | ")};`,
      );
    } else if (obj instanceof protobuf.Type) {
      lines.push(`  export interface ${name} {`);
      for (const f of obj.fieldsArray) {
        const t = fieldType(f);
        if (f instanceof protobuf.MapField) lines.push(`    ${f.name}: Record<string, ${t}>;`);
        else if (f.repeated) lines.push(`    ${f.name}: ${t}[];`);
        else if (f.partOf) lines.push(`    ${f.name}?: ${t};`);
        else if (f.resolvedType instanceof protobuf.Type) lines.push(`    ${f.name}: ${t} | null;`);
        else lines.push(`    ${f.name}: ${t};`);
      }
      for (const o of obj.oneofsArray) lines.push(`    ${o.name}?: ${o.oneof.map((n) => JSON.stringify(n)).join(" | ")};`);
      lines.push("  }");
    } else if (obj instanceof protobuf.Service) {
      const iface = `${tsRef(obj).replace(/\./g, "_")}_Methods`;
      services.push(`  ${JSON.stringify(obj.fullName.slice(1))}: ${iface};`);
      const m: string[] = [`export interface ${iface} {`];
      for (const method of obj.methodsArray) {
        method.resolve();
        const req = tsRef(method.resolvedRequestType!);
        const res = tsRef(method.resolvedResponseType!);
        m.push(
          `  ${method.name}: { req: ${req}; res: ${res}; clientStream: ${Boolean(method.requestStream)}; serverStream: ${Boolean(method.responseStream)} };`,
        );
      }
      m.push("}");
      byPkg.set(`\u0000${iface}`, m);
    }
  }
  const out: string[] = [header];
  for (const [pkg, lines] of byPkg) {
    if (pkg.startsWith("\u0000")) out.push(...lines, "");
    else if (lines.length) out.push(`export namespace ${pkg} {`, ...lines, "}", "");
  }
  out.push("/** Every service: fully qualified name -> its methods' request/response shapes. */");
  out.push("export interface Services {", ...services, "}", "");
  return out.join("\n");
}

/** The top-level definition (package-level message or enum) an object is, or is nested in. */
function topLevelOf(obj: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let o = obj;
  while (o.parent instanceof protobuf.Type) o = o.parent;
  return o;
}

/** Top-level definition -> the other top-level definitions its fields (nested messages' included) refer to. */
function depsTable(root: protobuf.Root): Record<string, string[]> {
  const all: protobuf.ReflectionObject[] = [];
  collect(root, all);
  const deps = new Map<string, Set<string>>();
  for (const obj of all) {
    if (obj instanceof protobuf.Service) continue;
    const top = topLevelOf(obj).fullName.slice(1);
    const set = deps.get(top) ?? new Set<string>();
    deps.set(top, set);
    if (!(obj instanceof protobuf.Type)) continue;
    for (const f of obj.fieldsArray) {
      if (!f.resolvedType) continue;
      const d = topLevelOf(f.resolvedType).fullName.slice(1);
      if (d !== top) set.add(d);
    }
  }
  return Object.fromEntries([...deps].map(([k, v]) => [k, [...v].sort()]));
}

interface MethodRow {
  name: string;
  requestType: string;
  responseType: string;
  clientStream: boolean;
  serverStream: boolean;
}

/** Every service's methods with fully qualified message names, so a method table needs no protobufjs Service. */
function methodsTable(root: protobuf.Root): Record<string, MethodRow[]> {
  const all: protobuf.ReflectionObject[] = [];
  collect(root, all);
  const out: Record<string, MethodRow[]> = {};
  for (const svc of all) {
    if (!(svc instanceof protobuf.Service)) continue;
    out[svc.fullName.slice(1)] = svc.methodsArray.map((m) => {
      m.resolve();
      return {
        name: m.name,
        requestType: m.resolvedRequestType!.fullName.slice(1),
        responseType: m.resolvedResponseType!.fullName.slice(1),
        clientStream: Boolean(m.requestStream),
        serverStream: Boolean(m.responseStream),
      };
    });
  }
  return out;
}

/** [name, field number, scalar type or full message/enum name, repeated, oneof (when a member)]. */
type CodecField = [string, number, string, 0 | 1] | [string, number, string, 0 | 1, string];

/**
 * What src/api/codec.ts encodes and decodes with, without protobufjs: every
 * message's fields with their types resolved to full names, and every enum's
 * values. Maps and proto3 `optional` are not in the machine API, and the
 * codec does not implement them: refuse them here rather than miscode.
 */
function codecTables(root: protobuf.Root): { messages: Record<string, CodecField[]>; enums: Record<string, Record<string, number>> } {
  const all: protobuf.ReflectionObject[] = [];
  collect(root, all);
  const messages: Record<string, CodecField[]> = {};
  const enums: Record<string, Record<string, number>> = {};
  for (const obj of all) {
    const full = obj.fullName.slice(1);
    if (obj instanceof protobuf.Enum) enums[full] = { ...obj.values };
    if (!(obj instanceof protobuf.Type)) continue;
    messages[full] = obj.fieldsArray.map((f): CodecField => {
      if (f instanceof protobuf.MapField) throw new Error(`${full}.${f.name}: map fields are not supported by src/api/codec.ts`);
      if (f.partOf?.isProto3Optional) throw new Error(`${full}.${f.name}: proto3 optional is not supported by src/api/codec.ts`);
      const type = f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type;
      const row: CodecField = [f.name, f.id, type, f.repeated ? 1 : 0];
      return f.partOf ? [...row, f.partOf.name] : row;
    });
  }
  return { messages, enums };
}

/** DEPS: which top-level definitions each one uses (src/lib/lazy-root.ts loads their closure). */
function depsLines(root: protobuf.Root): string[] {
  return [
    "/** Top-level definition -> the top-level definitions its fields use (src/lib/lazy-root.ts loads their closure). */",
    `export const DEPS: Record<string, readonly string[]> = ${JSON.stringify(depsTable(root), null, 1)};`,
    "",
  ];
}

/** METHODS: every service's method table. */
function methodsLines(root: protobuf.Root): string[] {
  return [
    "export interface MethodRow {",
    "  name: string;",
    "  requestType: string;",
    "  responseType: string;",
    "  clientStream: boolean;",
    "  serverStream: boolean;",
    "}",
    "",
    "/** Every service (full name) -> its methods, message names fully qualified. */",
    `export const METHODS: Record<string, readonly MethodRow[]> = ${JSON.stringify(methodsTable(root), null, 1)};`,
    "",
  ];
}

/** codec.ts: what src/api/codec.ts needs, and the method tables (PID 1 loads this, not the JSON schema). */
function codecModule(root: protobuf.Root, HEADER: string): string {
  const { messages, enums } = codecTables(root);
  return [
    HEADER,
    ...methodsLines(root),
    "/** Message -> [name, number, type, repeated, oneof?] per field (src/api/codec.ts). */",
    `export const MESSAGES: Record<string, readonly (readonly [string, number, string, 0 | 1, string?])[]> = {\n${Object.entries(messages)
      .map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
      .join("\n")}\n};`,
    "",
    "/** Enum -> its values, in declaration order (src/api/codec.ts). */",
    `export const ENUMS: Record<string, Record<string, number>> = {\n${Object.entries(enums)
      .map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
      .join("\n")}\n};`,
    "",
  ].join("\n");
}

const header = (protoDir: string) => `// Generated by scripts/gen-proto.ts from ${protoDir}/*.proto. Do not edit: run \`bun run gen:proto\`.\n`;

/** Per-file descriptors and a symbol table, so the node answers reflection without parsing descriptors. */
function reflectionIndex(files: Json[]): { files: Record<string, { proto: string; deps: string[] }>; symbols: Record<string, string>; services: string[] } {
  const out = { files: {} as Record<string, { proto: string; deps: string[] }>, symbols: {} as Record<string, string>, services: [] as string[] };
  for (const f of files) {
    const name = f.name as string;
    const pkg = f.package ? `${f.package as string}.` : "";
    const proto = descriptor.FileDescriptorProto.encode(descriptor.FileDescriptorProto.fromObject(f)).finish();
    out.files[name] = { proto: Buffer.from(proto).toString("base64"), deps: (f.dependency as string[]) ?? [] };
    const addMessage = (prefix: string, m: Json) => {
      const full = prefix + (m.name as string);
      out.symbols[full] = name;
      for (const n of (m.nestedType as Json[]) ?? []) addMessage(full + ".", n);
      for (const e of (m.enumType as Json[]) ?? []) out.symbols[`${full}.${e.name as string}`] = name;
    };
    for (const m of (f.messageType as Json[]) ?? []) addMessage(pkg, m);
    for (const e of (f.enumType as Json[]) ?? []) out.symbols[pkg + (e.name as string)] = name;
    for (const sv of (f.service as Json[]) ?? []) {
      const full = pkg + (sv.name as string);
      out.symbols[full] = name;
      out.services.push(full);
      for (const m of (sv.method as Json[]) ?? []) out.symbols[`${full}.${m.name as string}`] = name;
    }
  }
  return out;
}

export function generate(outDir: string, protoDir = PROTO_DIR, opts: { reflection: boolean } = { reflection: true }): string[] {
  const root = new protobuf.Root();
  const files = protoFiles(protoDir).map((p) => parseFile(p, root, protoDir));
  root.resolveAll();
  const HEADER = header(protoDir);
  if (!opts.reflection) return writeSchemaOnly(outDir, root, HEADER);
  const set = { file: files.map((f) => fileDescriptor(f, root)) };
  const bytes = descriptor.FileDescriptorSet.encode(descriptor.FileDescriptorSet.fromObject(set)).finish();
  const json = root.toJSON({ keepComments: false });
  const reflection = reflectionIndex(set.file);
  mkdirSync(outDir, { recursive: true });
  const schema = [
    HEADER,
    'import type { INamespace } from "protobufjs";',
    "",
    "/** protobufjs JSON of every message and service (field names as in the .proto files). */",
    `export const SCHEMA: INamespace = ${JSON.stringify(json, null, 1)};`,
    "",
    ...depsLines(root),
  ].join("\n");
  const reflectionModule = [
    HEADER,
    "/** google.protobuf.FileDescriptorSet of every .proto file, base64, for server reflection. */",
    `export const FILE_DESCRIPTOR_SET = ${JSON.stringify(Buffer.from(bytes).toString("base64"))};`,
    "",
    "/** What server reflection answers from: each file's FileDescriptorProto (base64) and imports, and where each symbol is defined. */",
    "export interface ReflectionIndex {",
    "  files: Record<string, { proto: string; deps: string[] }>;",
    "  symbols: Record<string, string>;",
    "  services: string[];",
    "}",
    "",
    `export const REFLECTION: ReflectionIndex = ${JSON.stringify(reflection, null, 1)};`,
    "",
  ].join("\n");
  const written = [join(outDir, "schema.ts"), join(outDir, "codec.ts"), join(outDir, "reflection.ts"), join(outDir, "types.ts")];
  writeFileSync(written[0]!, schema);
  writeFileSync(written[1]!, codecModule(root, HEADER));
  writeFileSync(written[2]!, reflectionModule);
  writeFileSync(written[3]!, typesModule(root, HEADER));
  return written;
}

function writeSchemaOnly(outDir: string, root: protobuf.Root, HEADER: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const json = root.toJSON({ keepComments: false });
  const schema = [
    HEADER,
    'import type { INamespace } from "protobufjs";',
    "",
    "/** protobufjs JSON of every message and service (field names as in the .proto files). */",
    // protobufjs's IField type has no keyType, which map fields carry.
    `export const SCHEMA = ${JSON.stringify(json, null, 1)} as unknown as INamespace;`,
    "",
    ...depsLines(root),
    ...methodsLines(root),
  ].join("\n");
  const written = [join(outDir, "schema.ts"), join(outDir, "types.ts")];
  writeFileSync(written[0]!, schema);
  writeFileSync(written[1]!, typesModule(root, HEADER));
  return written;
}

if (import.meta.main) {
  const outDir = process.argv[2] ?? "src/api/gen";
  for (const f of generate(outDir)) console.log(`gen-proto: wrote ${f}`);
  if (!process.argv[2]) for (const f of generate("src/containerd/gen", CONTAINERD_PROTO_DIR, { reflection: false })) console.log(`gen-proto: wrote ${f}`);
}
