// A gRPC call's status as our HTTP/2 clients read it from the response's
// header fields (the unix channels of grpc-client.ts, the health check's one-call client).
import { CODE_NAMES, Code } from "../status.ts";
import { ApiError } from "../errors.ts";

export type Fields = readonly (readonly [string, string])[];

/** The first value of `name` among `fields`. */
export function headerField(fields: Fields, name: string): string | undefined {
  for (const [n, v] of fields) if (n === name) return v;
  return undefined;
}

/** The status in response headers or trailers: null for OK, undefined when they carry none; grpc-message percent-decoded. */
export function statusFrom(fields: Fields): ApiError | null | undefined {
  const raw = headerField(fields, "grpc-status");
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (code === Code.OK) return null;
  let details = headerField(fields, "grpc-message") ?? "";
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded after all
  }
  return new ApiError(code, details || CODE_NAMES[code] || "error");
}
