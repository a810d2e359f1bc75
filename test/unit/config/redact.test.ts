// What a non-admin may see of a config (src/config/redact.ts): the same text
// byte for byte but for the scalars that hold a secret; made from the
// validating parse's own documents; fail closed when it cannot be sure.
import { describe, expect, test } from "bun:test";
import { parse } from "yaml";
import { readerText, REDACTED, RedactionError, redactConfigText } from "../../../src/config/redact.ts";
import { validateConfig } from "../../../src/config/validate.ts";

const KEY = Buffer.from("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n").toString("base64");
const CRT = Buffer.from("-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n").toString("base64");

describe("redaction at validation", () => {
  test("only the key changes: comments, layout and the certificate stay as the admin sees them", () => {
    const text = `# the node\nversion: v1alpha1\nmachine:\n  ca:\n    crt: ${CRT} # cert\n    key: "${KEY}"\n  network: { hostname: n1 }\n`;
    expect(readerText(validateConfig(text).redaction)).toBe(text.replace(`"${KEY}"`, REDACTED));
  });

  test("a config without a CA key is its own redaction", () => {
    const text = "version: v1alpha1\nmachine:\n  network:\n    hostname: n1\n";
    expect(validateConfig(text).redaction).toEqual({ text });
  });

  test("a block-scalar key becomes one plain word and the next key keeps its line", () => {
    const text = `version: v1alpha1\nmachine:\n  ca:\n    key: |\n      ${KEY}\n    crt: ${CRT}\n  env:\n    COPY: "${KEY}"\n`;
    const out = readerText(validateConfig(text).redaction);
    expect(out).not.toContain(KEY);
    const back = parse(out) as { machine: { ca: { key: string; crt: string }; env: { COPY: string } } };
    expect(back.machine.ca).toEqual({ key: REDACTED, crt: CRT });
    expect(back.machine.env.COPY).toBe(REDACTED);
  });

  test("an anchored key and its alias: the anchor's value is hidden, the alias stays valid", () => {
    const text = `version: v1alpha1\nmachine:\n  ca:\n    crt: ${CRT}\n    key: &k ${KEY}\n  env:\n    COPY: *k\n`;
    const out = readerText(validateConfig(text).redaction);
    expect(out).toContain(`key: &k ${REDACTED}`);
    expect(out).toContain("COPY: *k");
    expect((parse(out) as { machine: { env: { COPY: string } } }).machine.env.COPY).toBe(REDACTED);
  });

  test("multi-document configs (as talosctl writes them) are redacted in every document", () => {
    const text = `version: v1alpha1\nmachine:\n  ca:\n    crt: ${CRT}\n    key: ${KEY}\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: x\nenvironment: ["K=${KEY}"]\n`;
    const out = readerText(validateConfig(text).redaction);
    expect(out).not.toContain(KEY);
    expect(out).toContain("kind: ExtensionServiceConfig");
  });

  test("a key that also appears in a comment fails closed: no text for readers, the reason instead", () => {
    const text = `version: v1alpha1\n# old key: ${KEY}\nmachine:\n  ca:\n    crt: ${CRT}\n    key: ${KEY}\n`;
    const r = validateConfig(text).redaction;
    expect("error" in r && r.error).toContain("outside a YAML value");
    expect(() => readerText(r)).toThrow(RedactionError);
  });
});

describe("redaction of text that did not come through the validator", () => {
  test("unparseable YAML is refused, never passed through", () => {
    expect(() => redactConfigText(`machine:\n  ca:\n    key: ${KEY}\n  bad: [\n`)).toThrow(/does not parse/);
  });
  test("a key that is not a string is refused", () => {
    expect(() => redactConfigText("machine:\n  ca:\n    key: [1]\n")).toThrow(/not a string/);
  });
  test("the path to the key may run through an alias", () => {
    const out = redactConfigText(`base: &ca\n  key: ${KEY}\nmachine:\n  ca: *ca\n`);
    expect(out).not.toContain(KEY);
    expect(out).toContain(`key: ${REDACTED}`);
  });
});
