// gRPC status codes and the mapping from minos errors to them. Plain numbers,
// so the lean client and the server share this without loading grpc-js.
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnavailableError,
} from "../lib/errors.ts";

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusCode = (typeof Code)[keyof typeof Code];

export const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k]));

/** An error that carries its own gRPC status (e.g. RESOURCE_EXHAUSTED for a slow stream reader). */
export class StatusError extends Error {
  constructor(
    readonly code: StatusCode,
    message: string,
  ) {
    super(message);
    this.name = "StatusError";
  }
}

/** What a handler's exception becomes on the wire. Unknown errors are INTERNAL with their message. */
export function toStatus(e: unknown): { code: StatusCode; details: string } {
  const details = e instanceof Error ? e.message : String(e);
  if (e instanceof StatusError) return { code: e.code, details };
  if (e instanceof NotFoundError) return { code: Code.NOT_FOUND, details };
  if (e instanceof InvalidArgumentError) return { code: Code.INVALID_ARGUMENT, details };
  if (e instanceof FailedPreconditionError) return { code: Code.FAILED_PRECONDITION, details };
  if (e instanceof PermissionDeniedError) return { code: Code.PERMISSION_DENIED, details };
  if (e instanceof UnavailableError) return { code: Code.UNAVAILABLE, details };
  if (e instanceof ResourceExhaustedError) return { code: Code.RESOURCE_EXHAUSTED, details };
  return { code: Code.INTERNAL, details: details || "internal error" };
}
