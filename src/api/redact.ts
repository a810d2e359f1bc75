// The machine config as a non-admin may see it: the same YAML (comments and
// layout kept, so readers and admins look at the same text) with every secret
// replaced by "REDACTED". Talos likewise hands readers a redacted config.
import { parseDocument, visit } from "yaml";
import { Code, StatusError } from "./status.ts";

export const REDACTED = "REDACTED";

/** Paths of the config's secrets. The CA key lets whoever holds it mint an admin certificate. */
const SECRET_PATHS: readonly (readonly string[])[] = [["machine", "ca", "key"]];

/** The last config redacted and its result (or refusal): readers call GetConfiguration over and over on the same stored text. */
let last: { text: string; result: string | StatusError } | undefined;

/**
 * The redacted text of `text`, parsed once per distinct config: a reader's
 * call after the first is a string comparison, not a parse of a config that
 * may hold 40,000 keys.
 */
export function redactConfig(text: string): string {
  if (last?.text !== text) {
    let result: string | StatusError;
    try {
      result = redactOnce(text);
    } catch (e) {
      if (!(e instanceof StatusError)) throw e;
      result = e;
    }
    last = { text, result };
  }
  if (last.result instanceof StatusError) throw last.result;
  return last.result;
}

function redactOnce(text: string): string {
  // The text was validated (duplicate keys refused) before it became the config: the YAML library's
  // duplicate-key check is quadratic in a map's size (seconds for 40,000 sysctls) and would find nothing.
  const doc = parseDocument(text, { uniqueKeys: false });
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
