// The machine config as a non-admin may see it: the same YAML (comments and
// layout kept, so readers and admins look at the same text) with every secret
// replaced by "REDACTED". Talos likewise hands readers a redacted config.
import { parseDocument, visit } from "yaml";
import { Code, StatusError } from "./status.ts";

export const REDACTED = "REDACTED";

/** Paths of the config's secrets. The CA key lets whoever holds it mint an admin certificate. */
const SECRET_PATHS: readonly (readonly string[])[] = [["machine", "ca", "key"]];

export function redactConfig(text: string): string {
  const doc = parseDocument(text);
  // Unparseable text cannot be checked for secrets: fail closed rather than pass it through.
  if (doc.errors.length) throw new StatusError(Code.INTERNAL, "config: stored YAML does not parse; refusing to show it unredacted");
  // Look the secrets up in the resolved view: a path that runs through an alias still finds them.
  const tree: unknown = doc.toJS();
  const secrets = new Set<string>();
  for (const path of SECRET_PATHS) {
    const value = path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), tree);
    if (value === undefined || value === null || value === "") continue;
    if (typeof value !== "string") throw new StatusError(Code.INTERNAL, `config: ${path.join(".")} is not a string; refusing to show it unredacted`);
    secrets.add(value);
  }
  if (secrets.size === 0) return text;
  // Rewrite scalars in place rather than setIn(): an anchor on the secret keeps
  // its aliases valid, and a copy of the secret elsewhere (an alias, a file's
  // content that embeds it) is hidden too.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && [...secrets].some((s) => (node.value as string).includes(s))) {
        node.value = REDACTED;
        node.type = "PLAIN"; // a block scalar style would otherwise be kept for the one-word value
      }
    },
  });
  return doc.toString();
}
