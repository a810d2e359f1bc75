// What can go wrong pulling an image, each with one message a person can act
// on: the host, the HTTP status, and the registry's own error code and text
// (distribution spec: a JSON body `{"errors":[{"code","message","detail"}]}`).

import { NotFoundError } from "../lib/errors.ts";

/** An HTTP answer other than success from one endpoint, or no answer at all (status 0). */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    message: string,
    readonly host: string,
    /** HTTP status; 0 when the endpoint was unreachable. */
    readonly status: number,
    /** The first code of the registry's error body ("MANIFEST_UNKNOWN", "UNAUTHORIZED"), if any. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Every endpoint failed. `attempts` has one error per endpoint, in the order tried; the message lists them all. */
export class RegistryUnavailableError extends RegistryError {
  override name = "RegistryUnavailableError";
  constructor(
    what: string,
    readonly attempts: RegistryError[],
  ) {
    const last = attempts[attempts.length - 1]!;
    super(`${what}: ${attempts.map((a) => a.message).join("; ")}`, last.host, last.status, last.code);
  }
}

/** The bytes received do not hash to the descriptor's digest, or their count differs from its size. */
export class DigestMismatchError extends Error {
  override name = "DigestMismatchError";
  constructor(
    readonly host: string,
    readonly expected: { digest: string; size: number },
    readonly actual: { digest?: string; size: number },
  ) {
    super(
      actual.digest === undefined
        ? `registry ${host}: blob ${expected.digest}: got more than the ${expected.size} bytes its descriptor declares`
        : expected.size !== actual.size
          ? `registry ${host}: blob ${expected.digest}: got ${actual.size} bytes, descriptor says ${expected.size}`
          : `registry ${host}: blob ${expected.digest}: content hashes to ${actual.digest}`,
    );
  }
}

/** An index or manifest list has no entry for the platform we run on. */
export class PlatformNotFoundError extends NotFoundError {
  override name = "PlatformNotFoundError";
  constructor(
    readonly reference: string,
    readonly wanted: string,
    readonly available: string[],
  ) {
    super(`image ${reference} has no ${wanted} manifest; it has: ${available.length ? available.join(", ") : "no platform entries"}`);
  }
}

/** A manifest we cannot use: bad JSON, an unknown media type, missing fields. */
export class ManifestError extends Error {
  override name = "ManifestError";
}

/** "CODE: message (detail)" from a registry error body, or the start of the body as text. */
export function registryErrorText(body: string): { code?: string; text: string } {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[] };
    const errs = Array.isArray(parsed.errors) ? parsed.errors : [];
    if (errs.length > 0) {
      const parts = errs.map((e) => {
        const code = typeof e.code === "string" ? e.code : "";
        const msg = typeof e.message === "string" ? e.message : "";
        return [code, msg].filter(Boolean).join(": ");
      });
      const code = typeof errs[0]!.code === "string" ? errs[0]!.code : undefined;
      return { ...(code !== undefined ? { code } : {}), text: parts.join("; ") };
    }
  } catch {
    // not JSON: fall through to the text
  }
  const text = body.replace(/\s+/g, " ").trim().slice(0, 200);
  return { text };
}
