// A machine config as `talosctl gen config` writes it: YAML documents separated
// by `---`, one v1alpha1 document (no `kind`, `version: v1alpha1`) and any of
// Talos 1.7's other kinds. Pure: bytes in, a typed config plus warnings out, or
// one InvalidArgumentError naming every problem with its YAML path. Paths in
// the v1alpha1 document are bare (`machine.sysctls.foo`), as init has always
// printed them; paths in other documents start with `document[i]`.

import type { Document } from "yaml";
import { InvalidArgumentError } from "../lib/errors.ts";
import { checkExtensionServiceConfig, extensionServiceWarnings } from "./extension-service.ts";
import { APPLIED_KINDS, extensionServiceConfigs, isKindName, KINDS, documentName, type KindDocument } from "./kinds.ts";
import { typeName, validate, NOT_APPLIED, type Findings } from "./schema.ts";
import { checkV1Alpha1, V1ALPHA1, type V1Alpha1Config } from "./v1alpha1.ts";
import { CONFIG_LIMITS, decodeConfigText, parseYamlDocuments, type ConfigLimits } from "./yaml.ts";

export interface ParsedConfig {
  /** The v1alpha1 document, defaults filled. */
  config: V1Alpha1Config;
  /** One line per accepted-but-not-applied key present (and per other document), naming its path. */
  warnings: string[];
  /** The other documents, in input order, each type-checked with its kind's schema. */
  documents: KindDocument[];
  /** The YAML documents as composed, with source ranges: what redaction rewrites without parsing again. */
  sources: Document.Parsed[];
}

/** The header of every refusal; the problems follow, one per line. */
export const INVALID_CONFIG = "invalid machine config:";
/** A config wrong in every line would otherwise make a message as big as itself. */
const MAX_LISTED = 100;

/**
 * Parses and validates a (multi-document) machine config. `input` is the raw
 * bytes (decoded as strict UTF-8) or text. Throws InvalidArgumentError.
 */
export function parseConfigDocuments(input: Uint8Array | string, limits: ConfigLimits = CONFIG_LIMITS): ParsedConfig {
  const text = decodeConfigText(input, limits);
  const parsed = parseYamlDocuments(text, limits);
  // Empty input is one empty document, refused as init always did ("(document): expected map, got null").
  const values = validateConfigValues(parsed.length > 0 ? parsed : [{ index: 0, value: null, errors: [] }]);
  return { ...values, sources: parsed.map((d) => d.node) };
}

/** One document of a config as a plain value, with the problems its YAML had. */
export interface ConfigValue {
  index: number;
  value: unknown;
  errors: string[];
}

/**
 * Validates a config's documents given as plain values: parseConfigDocuments
 * after the YAML, and the built-in default, which is a value and needs no
 * YAML (src/config/yaml-lib.ts: PID 1 then never loads the library).
 */
export function validateConfigValues(yamlDocs: readonly ConfigValue[]): Omit<ParsedConfig, "sources"> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const documents: KindDocument[] = [];
  let config: V1Alpha1Config | undefined;
  let v1alpha1At: number | undefined;
  const names = new Map<string, number>();

  for (const { index, value, errors: yamlErrors } of yamlDocs) {
    if (value === null && yamlErrors.length === 0 && yamlDocs.length > 1) continue; // an empty document (a trailing `---`)
    const kind = kindOf(value);
    if (kind === undefined) {
      // The v1alpha1 document: bare paths, as init has always printed them.
      if (v1alpha1At !== undefined) {
        errors.push(`document[${index}]: a second v1alpha1 document (the first is document[${v1alpha1At}])`);
        continue;
      }
      v1alpha1At = index;
      errors.push(...yamlErrors);
      if (yamlErrors.length > 0) continue;
      const found: Findings = { errors: [], warnings: [] };
      const out = validate(value, V1ALPHA1, "", "mixed", found) as V1Alpha1Config | undefined;
      if (out) checkV1Alpha1(out, found.errors);
      errors.push(...found.errors);
      warnings.push(...found.warnings);
      config = out;
      continue;
    }
    const prefix = `document[${index}]`;
    errors.push(...yamlErrors.map((e) => `${prefix}${e.startsWith("(document)") ? e.slice("(document)".length) : e.startsWith("[") ? e : `.${e}`}`));
    if (yamlErrors.length > 0) continue;
    if (typeof kind !== "string") {
      errors.push(`${prefix}.kind: expected string, got ${typeName(kind)}`);
      continue;
    }
    if (!isKindName(kind)) {
      errors.push(`${prefix}.kind: unknown kind "${kind}" (Talos 1.7 kinds: v1alpha1 document without kind, ${Object.keys(KINDS).join(", ")})`);
      continue;
    }
    const found: Findings = { errors: [], warnings: [] };
    // A kind minos does not apply yet is accepted as a whole: one warning for the document, not one per key.
    const out = validate(value, KINDS[kind], prefix, "mixed", found);
    if (kind === "ExtensionServiceConfig" && out) checkExtensionServiceConfig(out, prefix, found.errors);
    errors.push(...found.errors);
    if (found.errors.length > 0 || out === undefined) continue;
    const doc = { kind, index, value: out } as KindDocument;
    const name = documentName(doc);
    const key = `${kind}/${name}`;
    const first = names.get(key);
    if (first !== undefined) errors.push(`${prefix}: a second ${kind}${name ? ` named "${name}"` : ""} (the first is document[${first}])`);
    names.set(key, index);
    documents.push(doc);
    if (!APPLIED_KINDS.has(kind)) warnings.push(`${prefix} (${kind}${name ? ` "${name}"` : ""}): ${NOT_APPLIED}`);
  }
  if (config)
    warnings.push(
      ...extensionServiceWarnings(
        extensionServiceConfigs(documents),
        (config.minos?.services ?? []).filter((x) => x !== undefined),
      ),
    );

  if (v1alpha1At === undefined && errors.length === 0) errors.push("version: required (no v1alpha1 document)");
  if (errors.length > 0 || !config) {
    const listed = errors.slice(0, MAX_LISTED);
    if (errors.length > MAX_LISTED) listed.push(`… and ${errors.length - MAX_LISTED} more`);
    throw new InvalidArgumentError(`${INVALID_CONFIG}\n  ${listed.join("\n  ")}`);
  }
  return { config, warnings, documents };
}

/** undefined: the v1alpha1 document (no `kind` key); otherwise the `kind` value as given. */
function kindOf(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, "kind") ? (value as Record<string, unknown>).kind : undefined;
}
