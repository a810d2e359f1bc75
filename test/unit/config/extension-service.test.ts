// ExtensionServiceConfig validation: every bad document is refused with the
// YAML path of what is wrong; a document that names no container service is
// accepted with a warning (Talos accepts it silently: its extension services
// come with the image, not the config); the applied documents reach the
// MachineConfig init uses, through the config worker too.
import { describe, expect, test } from "bun:test";
import { configFileName } from "../../../src/config/extension-service.ts";
import { ConfigValidator } from "../../../src/config/offthread.ts";
import { parseConfigDocuments } from "../../../src/config/parse.ts";
import { asMachineConfig, parseMachineConfig } from "../../../src/init/config/machine.ts";
import { diffKeys } from "../../../src/init/backend/machine.ts";

const V1 = "version: v1alpha1\nminos:\n  services:\n    - { id: ext, image: r/ext:1 }\n    - { id: cmd, command: [/bin/true] }\n";
const doc = (body: string) => `${V1}---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\n${body}`;

function errorOf(yaml: string): string {
  try {
    parseConfigDocuments(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("accepted, expected a refusal");
}

describe("ExtensionServiceConfig: refused with the YAML path", () => {
  const cases: [string, string, string][] = [
    [
      "a relative mountPath",
      "name: ext\nconfigFiles: [{ content: x, mountPath: etc/ext.conf }]\n",
      'document[1].configFiles[0].mountPath: "etc/ext.conf" must be an absolute path to a file',
    ],
    ["mountPath /", "name: ext\nconfigFiles: [{ content: x, mountPath: / }]\n", 'document[1].configFiles[0].mountPath: "/" must be an absolute path to a file'],
    [
      "a mountPath with ..",
      "name: ext\nconfigFiles: [{ content: x, mountPath: /etc/../x }]\n",
      'document[1].configFiles[0].mountPath: "/etc/../x" must be an absolute path without empty, . or .. components',
    ],
    [
      "a mountPath with an empty component",
      "name: ext\nconfigFiles: [{ content: x, mountPath: /etc//x }]\n",
      'document[1].configFiles[0].mountPath: "/etc//x" must be an absolute path without empty, . or .. components',
    ],
    [
      "empty content (Talos refuses it)",
      'name: ext\nconfigFiles: [{ content: "", mountPath: /etc/x }]\n',
      "document[1].configFiles[0].content: must not be empty",
    ],
    ["a missing mountPath", "name: ext\nconfigFiles: [{ content: x }]\n", "document[1].configFiles[0].mountPath: required"],
    ["an env entry without =", "name: ext\nenvironment: [K=v, JUSTNAME]\n", 'document[1].environment[1]: "JUSTNAME" must be KEY=value (no "=")'],
    ["an env entry without a name", "name: ext\nenvironment: [=v]\n", 'document[1].environment[0]: "=v" has no variable name before "="'],
    ["an env name with a space", 'name: ext\nenvironment: ["MY VAR=1"]\n', 'document[1].environment[0]: "MY VAR=1": the name "MY VAR" contains whitespace'],
    ["an env entry that is not a string", "name: ext\nenvironment: [{ K: v }]\n", "document[1].environment[0]: expected string, got map"],
    ["an empty name", 'name: ""\nenvironment: [K=v]\n', "document[1].name: must not be empty"],
    ["no name", "environment: [K=v]\n", "document[1].name: required"],
    [
      "nothing to apply (Talos refuses it)",
      "name: ext\n",
      'document[1]: neither configFiles nor environment given (Talos: no config files found for extension "ext")',
    ],
    [
      "two files at one mountPath",
      "name: ext\nconfigFiles: [{ content: a, mountPath: /etc/x }, { content: b, mountPath: /etc/x }]\n",
      'document[1].configFiles[1].mountPath: "/etc/x" is configFiles[0]\'s mountPath too',
    ],
    [
      "two mountPaths that fold into one host file",
      "name: ext\nconfigFiles: [{ content: a, mountPath: /etc/a-b }, { content: b, mountPath: /etc/a/b }]\n",
      'document[1].configFiles[1].mountPath: "/etc/a/b" and configFiles[0] ("/etc/a-b") would share the host file etc-a-b',
    ],
    ["an unknown key", "name: ext\nenvironment: [K=v]\nenv: [K=v]\n", "document[1].env: unknown key (known: apiVersion, kind, name, configFiles, environment)"],
  ];
  for (const [what, body, want] of cases) test(what, () => expect(errorOf(doc(body))).toContain(want));

  test("two documents for one service: refused naming both (Talos: duplicate document)", () => {
    const twice = `${doc("name: ext\nenvironment: [A=1]\n")}---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: ext\nenvironment: [B=2]\n`;
    expect(errorOf(twice)).toContain('document[2]: a second ExtensionServiceConfig named "ext" (the first is document[1])');
  });

  test("every problem of a document is listed at once", () => {
    const m = errorOf(doc("name: ext\nconfigFiles: [{ content: x, mountPath: rel }]\nenvironment: [NOEQ]\n"));
    expect(m).toContain("document[1].configFiles[0].mountPath:");
    expect(m).toContain("document[1].environment[0]:");
  });
});

describe("ExtensionServiceConfig: accepted", () => {
  test("a document for a container service: applied, no warning", () => {
    const r = parseConfigDocuments(doc("name: ext\nconfigFiles: [{ content: hi, mountPath: /etc/ext/ext.conf }]\nenvironment: [K=v, EMPTY=]\n"));
    expect(r.warnings).toEqual([]);
    expect(r.documents).toHaveLength(1);
  });

  test("a document naming no minos.services entry: a warning with its path (Talos accepts it)", () => {
    const r = parseConfigDocuments(doc("name: nut-client\nenvironment: [NUT_UPS=ups]\n"));
    expect(r.warnings).toEqual(['document[1].name: no minos.services entry is named "nut-client": this ExtensionServiceConfig configures nothing']);
  });

  test("a document naming a command service: a warning (only containers take it)", () => {
    const r = parseConfigDocuments(doc("name: cmd\nenvironment: [K=v]\n"));
    expect(r.warnings).toEqual([
      'document[1].name: minos.services "cmd" has no image: ExtensionServiceConfig applies to container services only, so it configures nothing',
    ]);
  });

  test("the documents reach the MachineConfig (absent when there are none)", () => {
    const { config } = parseMachineConfig(doc("name: ext\nconfigFiles: [{ content: hi, mountPath: /etc/ext.conf }]\n"));
    expect(config.extensionServiceConfigs).toEqual([{ name: "ext", configFiles: [{ content: "hi", mountPath: "/etc/ext.conf" }], environment: [] }]);
    expect(parseMachineConfig(V1).config.extensionServiceConfigs).toBeUndefined();
  });

  test("through the config worker too (the apply and the boot path)", async () => {
    const v = new ConfigValidator();
    try {
      const r = await v.validate(doc("name: ext\nenvironment: [K=v]\n"));
      expect(asMachineConfig(r.config, r.documents).extensionServiceConfigs).toEqual([{ name: "ext", configFiles: [], environment: ["K=v"] }]);
    } finally {
      v.close();
    }
  });

  test("a changed document is a change that waits for the next boot", () => {
    const a = parseMachineConfig(doc("name: ext\nenvironment: [K=v]\n")).config;
    const b = parseMachineConfig(doc("name: ext\nenvironment: [K=w]\n")).config;
    expect(diffKeys(a, b)).toEqual(["ExtensionServiceConfig"]);
    expect(diffKeys(a, parseMachineConfig(doc("name: ext\nenvironment: [K=v]\n")).config)).toEqual([]);
  });

  test("host file names are Talos's: the path without its leading /, every / a -", () => {
    expect(configFileName("/usr/local/etc/nut/upsmon.conf")).toBe("usr-local-etc-nut-upsmon.conf");
  });
});
