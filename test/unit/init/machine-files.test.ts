// machine.files' writer against a real directory tree standing in for "/":
// only under /var, never through a symlink planted under /var (to /etc, to the
// stored config), never into a FIFO or a hard-linked file; op create on an
// existing file leaves it as it is. And the apply-time rule with its YAML path.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkMachineFiles, parseConfig } from "../../../src/init/config/machine.ts";
import { writeMachineFile } from "../../../src/init/phases/system.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "minos-files-"));
  for (const d of ["var", "etc", "system/state"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "etc/os-release"), "NAME=minos\n");
  writeFileSync(join(root, "system/state/config.yaml"), "version: v1alpha1\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const file = (path: string, op: "create" | "append" | "overwrite" = "overwrite", content = "attack\n") => ({ path, content, permissions: 0o644, op });
const untouched = () => {
  expect(readFileSync(join(root, "etc/os-release"), "utf8")).toBe("NAME=minos\n");
  expect(readFileSync(join(root, "system/state/config.yaml"), "utf8")).toBe("version: v1alpha1\n");
};

describe("machine.files writer", () => {
  test("writes, appends and creates under /var, with the permissions asked for", () => {
    expect(writeMachineFile(file("/var/lib/a/b", "create", "one\n"), root)).toBe("written");
    expect(writeMachineFile(file("/var/lib/a/b", "append", "two\n"), root)).toBe("written");
    expect(readFileSync(join(root, "var/lib/a/b"), "utf8")).toBe("one\ntwo\n");
    expect(writeMachineFile({ ...file("/var/lib/a/b", "overwrite", "x"), permissions: 0o600 }, root)).toBe("written");
    expect(readFileSync(join(root, "var/lib/a/b"), "utf8")).toBe("x");
    expect(statSync(join(root, "var/lib/a/b")).mode & 0o777).toBe(0o600);
  });

  test("op create on an existing file is 'exists', the file left as it is", () => {
    writeMachineFile(file("/var/x", "create", "first\n"), root);
    expect(writeMachineFile(file("/var/x", "create", "second\n"), root)).toBe("exists");
    expect(readFileSync(join(root, "var/x"), "utf8")).toBe("first\n");
  });

  test("paths outside /var are refused before anything is opened", () => {
    for (const p of ["/etc/os-release", "/system/state/config.yaml", "/sbin/wrapperd", "/var", "/var/../etc/os-release", "/var/./x", "/var//x"]) {
      expect(() => writeMachineFile(file(p), root)).toThrow(/must be/);
    }
    untouched();
  });

  test("a directory symlink planted under /var (to /etc) is not followed, for any op", () => {
    symlinkSync(join(root, "etc"), join(root, "var/etc"));
    for (const op of ["create", "append", "overwrite"] as const) {
      expect(() => writeMachineFile(file("/var/etc/os-release", op), root)).toThrow(/\/var\/etc is a symlink: not followed/);
      expect(() => writeMachineFile(file("/var/etc/new-file", op), root)).toThrow(/symlink/);
    }
    untouched();
    expect(() => statSync(join(root, "etc/new-file"))).toThrow();
  });

  test("a file symlink planted under /var (to the stored config, to /etc/os-release) is not followed", () => {
    symlinkSync(join(root, "system/state/config.yaml"), join(root, "var/config.yaml"));
    symlinkSync("../etc/os-release", join(root, "var/os-release"));
    for (const p of ["/var/config.yaml", "/var/os-release"]) {
      expect(() => writeMachineFile(file(p, "overwrite"), root)).toThrow(/symlink: not followed/);
      expect(() => writeMachineFile(file(p, "append"), root)).toThrow(/symlink: not followed/);
      // create: the name exists (as a link): left alone, and nothing written through it.
      expect(writeMachineFile(file(p, "create"), root)).toBe("exists");
    }
    untouched();
  });

  test("a hard link and a FIFO under /var are refused without a byte written (and without blocking)", () => {
    mkdirSync(join(root, "var/h"));
    writeFileSync(join(root, "var/h/orig"), "keep\n");
    linkSync(join(root, "var/h/orig"), join(root, "var/h/link"));
    expect(() => writeMachineFile(file("/var/h/link", "overwrite"), root)).toThrow(/2 hard links/);
    expect(readFileSync(join(root, "var/h/orig"), "utf8")).toBe("keep\n");
    execFileSync("mkfifo", [join(root, "var/fifo")]);
    const t0 = performance.now();
    expect(() => writeMachineFile(file("/var/fifo", "overwrite"), root)).toThrow();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("apply-time rule: each path outside /var is an error naming machine.files[i].path", () => {
    const cfg = parseConfig(
      "version: v1alpha1\nmachine:\n  files:\n    - { path: /var/ok, content: a }\n    - { path: /etc/os-release, content: b }\n    - { path: /system/state/config.yaml, content: c }\n",
    );
    const errors = checkMachineFiles(cfg);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^machine\.files\[1\]\.path: "\/etc\/os-release" must be under \/var\//);
    expect(errors[1]).toMatch(/^machine\.files\[2\]\.path: /);
  });
});
