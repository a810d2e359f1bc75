// The machine config as a non-admin may see it: the same text, byte for byte
// (comments, layout, anchors kept), with every scalar that holds a secret
// replaced by "REDACTED". Talos likewise hands readers a redacted config.
//
// The text is rewritten by the source ranges of the YAML nodes rather than by
// re-serialising the document: the validating parse has already composed the
// documents (parse.ts keeps them as `sources`), so redacting a 30,000-key config
// costs one walk over its scalars instead of the `yaml` library's toString
// (seconds for 0.5 MB). It fails closed: text that does not parse, a secret
// that is not a string, or a secret still present verbatim after the rewrite
// (in a comment, say) is a RedactionError, never the text passed through.
import type { Document } from "yaml";
import { yamlLib } from "./yaml-lib.ts";

export const REDACTED = "REDACTED";

/** Paths of the config's secrets. The CA key lets whoever holds it mint an admin certificate. */
export const SECRET_PATHS: readonly (readonly string[])[] = [["machine", "ca", "key"]];

/** Redaction could not be done safely: the text must not be shown to a non-admin. */
export class RedactionError extends Error {
  override name = "RedactionError";
}

/** What readers get: the redacted text, or why there is none (computed once, when the config was validated). */
export type Redaction = { text: string } | { error: string };

/** The secrets found at SECRET_PATHS in plain values (a parsed document, or the typed config). */
export function secretsOf(values: readonly unknown[]): Set<string> {
  const secrets = new Set<string>();
  for (const tree of values) {
    for (const path of SECRET_PATHS) {
      const value = path.reduce<unknown>((v, k) => (v && typeof v === "object" && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined), tree);
      if (value === undefined || value === null || value === "") continue;
      if (typeof value !== "string") throw new RedactionError(`config: ${path.join(".")} is not a string; refusing to show it unredacted`);
      secrets.add(value);
      // A block scalar's value ends with its line break; a copy of the key elsewhere need not.
      const bare = value.trim();
      if (bare !== "") secrets.add(bare);
    }
  }
  return secrets;
}

/**
 * `text` with every scalar of `docs` (composed from that same text) whose value
 * contains one of `secrets` replaced by REDACTED. A copy of the secret through an
 * alias follows the anchor's scalar; a copy inside another value hides that value.
 */
export function redactSources(text: string, docs: readonly Document.Parsed[], secrets: ReadonlySet<string>): string {
  if (secrets.size === 0) return text;
  const list = [...secrets];
  const cuts: [number, number][] = [];
  for (const doc of docs) {
    yamlLib().visit(doc, {
      Scalar(_key, node) {
        const v = node.value;
        if (typeof v !== "string" || !list.some((s) => v.includes(s))) return;
        if (!node.range) throw new RedactionError("config: a secret without a source position; refusing to show it unredacted");
        cuts.push([node.range[0], node.range[1]]);
      },
    });
  }
  cuts.sort((a, b) => a[0] - b[0]);
  const parts: string[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    if (start < at) continue; // inside a cut already made (cannot happen for scalars; kept safe)
    parts.push(text.slice(at, start));
    // A block scalar's range ends with its line breaks: keep them, or the next key would join this line.
    const src = text.slice(start, end);
    parts.push(REDACTED + src.slice(src.trimEnd().length));
    at = end;
  }
  parts.push(text.slice(at));
  const out = parts.join("");
  for (const s of list)
    if (out.includes(s)) throw new RedactionError("config: a secret appears outside a YAML value (a comment?); refusing to show the config unredacted");
  return out;
}

/**
 * Redacts text that has not been through the validating parser (a test's fake
 * node, a config loaded without the worker): parses it on its own. Throws
 * RedactionError when it does not parse.
 */
export function redactConfigText(text: string): string {
  // uniqueKeys off: the library's duplicate-key check is quadratic in a map's size.
  const docs: Document.Parsed[] = [...yamlLib().parseAllDocuments(text, { uniqueKeys: false })];
  if (docs.some((d) => d.errors.length > 0)) throw new RedactionError("config: stored YAML does not parse; refusing to show it unredacted");
  // Look the secrets up in the resolved view: a path that runs through an alias still finds them.
  return redactSources(text, docs, secretsOf(docs.map((d) => d.toJS())));
}

/** The Redaction of a validated config: `values` its documents' plain values, `docs` as composed from `text`. */
export function redactionOf(text: string, values: readonly unknown[], docs: readonly Document.Parsed[]): Redaction {
  try {
    return { text: redactSources(text, docs, secretsOf(values)) };
  } catch (e) {
    if (e instanceof RedactionError) return { error: e.message };
    throw e;
  }
}

/** The text a reader gets from a Redaction, or the RedactionError it stands for. */
export function readerText(r: Redaction): string {
  if ("error" in r) throw new RedactionError(r.error);
  return r.text;
}
