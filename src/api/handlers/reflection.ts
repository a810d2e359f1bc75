// gRPC server reflection (v1 and v1alpha share one shape): list services and
// hand out FileDescriptorProtos, with their imports, from the index
// scripts/gen-proto.ts generated. That index (~80 KB of descriptors) is
// imported when the first reflection stream opens, not at PID 1's start.
import type { ReflectionIndex } from "../gen/reflection.ts";
import type { grpc } from "../gen/types.ts";
import type { ServiceImpl } from "../handler.ts";
import type { Msg } from "../wire.ts";

type Req = grpc.reflection.v1.ServerReflectionRequest;
type Res = grpc.reflection.v1.ServerReflectionResponse;

/** A file and, transitively, everything it imports (what reflection clients need to build it). */
function withDeps(REFLECTION: ReflectionIndex, file: string): Uint8Array[] {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f) || !REFLECTION.files[f]) return;
    seen.add(f);
    for (const d of REFLECTION.files[f]!.deps) visit(d);
  };
  visit(file);
  return [...seen].map((f) => Buffer.from(REFLECTION.files[f]!.proto, "base64"));
}

export function answer(REFLECTION: ReflectionIndex, req: Req): Msg<Res> {
  const base: Msg<Res> = { valid_host: req.host, original_request: req };
  const notFound = (what: string): Msg<Res> => ({ ...base, error_response: { error_code: 5, error_message: `${what} not found` } });
  const files = (name: string | undefined, what: string): Msg<Res> =>
    name && REFLECTION.files[name] ? { ...base, file_descriptor_response: { file_descriptor_proto: withDeps(REFLECTION, name) } } : notFound(what);
  switch (req.message_request) {
    case "list_services":
      return { ...base, list_services_response: { service: REFLECTION.services.map((name) => ({ name })) } };
    case "file_by_filename":
      return files(req.file_by_filename, `file ${req.file_by_filename}`);
    case "file_containing_symbol": {
      const sym = (req.file_containing_symbol ?? "").replace(/^\./, "");
      return files(REFLECTION.symbols[sym], `symbol ${sym}`);
    }
    case "all_extension_numbers_of_type": {
      // The minos schema declares no extensions.
      const type = req.all_extension_numbers_of_type ?? "";
      return REFLECTION.symbols[type] ? { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: [] } } : notFound(`type ${type}`);
    }
    case "file_containing_extension":
      return notFound("extension");
    default:
      return { ...base, error_response: { error_code: 12, error_message: "unsupported reflection request" } };
  }
}

function reflection(): ServiceImpl<"grpc.reflection.v1.ServerReflection"> {
  return {
    async ServerReflectionInfo(requests, _ctx, sink) {
      const { REFLECTION } = await import("../gen/reflection.ts");
      for await (const req of requests) if (!sink.push(answer(REFLECTION, req))) return;
    },
  };
}

export const reflectionV1 = reflection;
// v1alpha's messages are field-for-field those of v1.
export const reflectionV1alpha = reflection as unknown as () => ServiceImpl<"grpc.reflection.v1alpha.ServerReflection">;
