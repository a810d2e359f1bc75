// The machine config as a non-admin may see it, for text that did not come
// through the validating worker (a node's config carries its redaction from
// validation: src/config/redact.ts). Cached per text; refusals are INTERNAL.
import { RedactionError, redactConfigText } from "../config/redact.ts";
import { Code, StatusError } from "./status.ts";

export { REDACTED } from "../config/redact.ts";

/** The last config redacted and its result (or refusal): readers call GetConfiguration over and over on the same stored text. */
let last: { text: string; result: string | StatusError } | undefined;

/** The redacted text of `text`, parsed once per distinct config; fails closed with INTERNAL. */
export function redactConfig(text: string): string {
  if (last?.text !== text) {
    let result: string | StatusError;
    try {
      result = redactConfigText(text);
    } catch (e) {
      if (!(e instanceof RedactionError)) throw e;
      result = new StatusError(Code.INTERNAL, e.message);
    }
    last = { text, result };
  }
  if (last.result instanceof StatusError) throw last.result;
  return last.result;
}
