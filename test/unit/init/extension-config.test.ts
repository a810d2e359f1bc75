// An ExtensionServiceConfig document applied to its container service: the
// files mounted read-only at their mountPaths from Talos's host directory,
// written (atomically, mode 0644) before each start with any stale file
// removed; its environment after the service's own and machine.env, so it
// wins in the OCI spec as in Talos.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../../src/init/config/machine.ts";
import { extraServices } from "../../../src/init/supervisor/builtin.ts";
import { configFileMounts, writeConfigFiles } from "../../../src/init/supervisor/extension-config.ts";
import { runtimeSpec } from "../../../src/init/supervisor/oci-spec.ts";

const tmp = mkdtempSync(join(tmpdir(), `minos-extcfg-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CONFIG = [
  "version: v1alpha1",
  "machine:\n  env: { G: machine, K: machine }",
  "minos:\n  services:\n    - { id: ext, image: r/ext:1, env: { K: service, S: service }, mounts: [ { source: /var/ext, destination: /data } ] }\n    - { id: other, image: r/o:1 }",
  "---",
  "apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: ext",
  'configFiles:\n  - { content: "a = 1\\n", mountPath: /etc/ext/ext.conf }\n  - { content: two, mountPath: /usr/local/etc/two }',
  "environment: [K=document, D=document]",
  "",
].join("\n");

describe("the service spec of a configured container service", () => {
  const [ext, other] = extraServices(parseConfig(CONFIG));

  test("the files are read-only bind mounts from /system/overlays/extensions/<name>/, after the service's own mounts", () => {
    expect(ext!.container!.mounts).toEqual([
      { source: "/var/ext", destination: "/data", type: "bind", options: ["rbind", "ro"] },
      { source: "/system/overlays/extensions/ext/etc-ext-ext.conf", destination: "/etc/ext/ext.conf", type: "bind", options: ["bind", "ro"] },
      { source: "/system/overlays/extensions/ext/usr-local-etc-two", destination: "/usr/local/etc/two", type: "bind", options: ["bind", "ro"] },
    ]);
  });

  test("the document's environment wins over the service's and machine.env (Talos's order)", () => {
    const spec = runtimeSpec(
      ext!.container!,
      { entrypoint: ["/bin/x"], cmd: [], env: ["PATH=/bin", "K=image", "I=image"], workingDir: "", user: "" },
      {
        id: "ext",
        cgroupsPath: "/system/extra/ext",
        grantable: [],
      },
    ) as { process: { env: string[] } };
    expect(spec.process.env).toEqual(["PATH=/bin", "K=document", "I=image", "G=machine", "S=service", "D=document"]);
  });

  test("a start writes the files first (prepare); a service without a document has neither mounts nor prepare", () => {
    expect(typeof ext!.prepare).toBe("function");
    expect(other!.prepare).toBeUndefined();
    expect(other!.container!.mounts).toEqual([]);
  });
});

describe("writeConfigFiles", () => {
  const doc = { name: "ext", configFiles: [{ content: "a = 1\n", mountPath: "/etc/ext/ext.conf" }], environment: [] };

  test("writes each file with its content, mode 0644, at the mount's source", () => {
    const root = join(tmp, "w1");
    const written = writeConfigFiles(doc, root);
    expect(written).toEqual([join(root, "ext", "etc-ext-ext.conf")]);
    expect(readFileSync(written[0]!, "utf8")).toBe("a = 1\n");
    expect(statSync(written[0]!).mode & 0o777).toBe(0o644);
    expect(configFileMounts(doc, root)[0]!.source).toBe(written[0]!);
  });

  test("rewriting replaces the content and removes files no document names (stale ones, leftover temps)", () => {
    const root = join(tmp, "w2");
    mkdirSync(join(root, "ext"), { recursive: true });
    writeFileSync(join(root, "ext", "etc-old.conf"), "old");
    writeFileSync(join(root, "ext", "etc-ext-ext.conf.tmp.1.2.3"), "half");
    writeFileSync(join(root, "ext", "etc-ext-ext.conf"), "before");
    writeConfigFiles(doc, root);
    expect(readdirSync(join(root, "ext"))).toEqual(["etc-ext-ext.conf"]);
    expect(readFileSync(join(root, "ext", "etc-ext-ext.conf"), "utf8")).toBe("a = 1\n");
  });

  test("a failure names the path (a directory where the file must go)", () => {
    const root = join(tmp, "w3");
    mkdirSync(join(root, "ext", "etc-ext-ext.conf", "x"), { recursive: true });
    // The stale-entry sweep runs after the writes: the directory is still there when the rename fails.
    expect(() => writeConfigFiles(doc, root)).toThrow(/etc-ext-ext\.conf/);
    expect(existsSync(join(root, "ext", "etc-ext-ext.conf", "x"))).toBe(true);
  });
});
