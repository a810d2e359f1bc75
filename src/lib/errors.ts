// Errors with a meaning the machine API turns into a gRPC status. Code inside
// init throws these; src/api maps them (NOT_FOUND, INVALID_ARGUMENT, ...).

/** An unknown service, a missing path. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}
/** Bad config, bad request fields. The message is shown to the user as is. */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError";
}
/** The node is busy (a sequence is running) or in the wrong state for the request. */
export class FailedPreconditionError extends Error {
  override name = "FailedPreconditionError";
}
/** Something the request needs is out of reach right now (a time server, a registry); retrying may work. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}
/** Out of a resource the request needs (no space left for the stored config). */
export class ResourceExhaustedError extends Error {
  override name = "ResourceExhaustedError";
}
/** The caller's role does not allow the request. */
export class PermissionDeniedError extends Error {
  override name = "PermissionDeniedError";
}

/**
 * One line a person can act on: a gRPC error's details (else the message),
 * first line only, no stack. `fallback` stands in for an empty text.
 */
export function firstLine(e: unknown, fallback = "error"): string {
  let text: string;
  if (typeof e === "object" && e !== null) {
    const err = e as { details?: unknown; message?: unknown };
    text = typeof err.details === "string" && err.details ? err.details : String(err.message ?? e);
  } else text = String(e);
  return text.split("\n")[0]!.trim() || fallback;
}
