// The one error type of the gRPC clients (the machine API transport and the
// containerd client): a status code and the server's or transport's message.
import { CODE_NAMES } from "./status.ts";

/** A failed call: a gRPC status code and the server's (or transport's) message. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = "ApiError";
  }
  get codeName(): string {
    return CODE_NAMES[this.code] ?? `CODE_${this.code}`;
  }
}
