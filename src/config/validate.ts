// The whole of validating a machine config, as one pure step: strict UTF-8,
// the limits, the Talos v1alpha1 schema (parse.ts), and the text a non-admin
// may see (redact.ts) made from the same parse. What the config worker runs
// off PID 1's event loop (worker.ts); callable inline too (tests, minosctl).
import type { KindDocument } from "./kinds.ts";
import { parseConfigDocuments } from "./parse.ts";
import { redactionOf, type Redaction } from "./redact.ts";
import type { V1Alpha1Config } from "./v1alpha1.ts";
import { decodeConfigText } from "./yaml.ts";

export interface ValidatedConfig {
  /** The v1alpha1 document, defaults filled. */
  config: V1Alpha1Config;
  /** Accepted-but-not-applied keys present, by path. */
  warnings: string[];
  /** The other documents (ExtensionServiceConfig, ...), in input order. */
  documents: KindDocument[];
  /** Exactly the text that was validated (what a store writes). */
  text: string;
  /** `text` with its secrets hidden, or why it cannot be shown to non-admins. */
  redaction: Redaction;
}

/** Throws InvalidArgumentError naming every problem (size, UTF-8, limits, schema). */
export function validateConfig(input: Uint8Array | string): ValidatedConfig {
  const text = decodeConfigText(input);
  const parsed = parseConfigDocuments(text);
  return { config: parsed.config, warnings: parsed.warnings, documents: parsed.documents, text, redaction: redactionOf(text, [parsed.config], parsed.sources) };
}
