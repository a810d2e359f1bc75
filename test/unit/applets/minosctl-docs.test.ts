// What minosctl says about itself: per-command --help describing every flag,
// `help CMD` the same text, the committed docs/minosctl in sync with
// `minosctl docs`, bash completion that loads and completes, `--version` on
// every applet (in-process and in the compiled binary), `version --client`
// without a node, and the config subcommands editing a talosconfig.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { GLOBAL_FLAGS } from "../../../src/applets/minosctl/cli.ts";
import { COMMANDS, main } from "../../../src/applets/minosctl/main.ts";
import { APPLET_NAMES, dispatch } from "../../../src/main.ts";
import { version } from "../../../package.json";
import { captureIo } from "../../../src/lib/io.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "minosctl-docs-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ctl(...args: string[]) {
  const io = captureIo({ HOME: dir });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe("help", () => {
  test("every command's --help names each of its flags and the global ones; help CMD says the same", async () => {
    for (const c of COMMANDS.filter((x) => x.name !== "dashboard")) {
      const r = await ctl(...c.name.split(" "), "--help");
      expect(r.code).toBe(0);
      expect(r.out).toStartWith(`usage: minosctl ${c.name}`);
      for (const f of [...(c.flags ?? []), ...GLOBAL_FLAGS]) {
        expect(r.out).toContain(`--${f.name}`);
        expect(r.out).toContain(f.help);
      }
      expect((await ctl("help", ...c.name.split(" "))).out).toBe(r.out);
    }
    expect((await ctl("help", "frobnicate")).code).toBe(2);
    // A group without its subcommand lists the subcommands.
    const gen = await ctl("gen", "--help");
    expect(gen.code).toBe(0);
    for (const sub of ["gen config", "gen secrets", "gen ca", "gen client"]) expect(gen.out).toContain(`  ${sub} `);
    const bare = await ctl("config");
    expect(bare.code).toBe(2);
    expect(bare.err).toContain("config contexts");
    const general = await ctl("--help");
    for (const c of COMMANDS) expect(general.out).toContain(`  ${c.name} `);
  });
});

describe("docs", () => {
  test("docs/minosctl is what `minosctl docs` writes (regenerate: bun src/main.ts minosctl docs docs/minosctl)", async () => {
    const out = join(dir, "docs");
    expect((await ctl("docs", out)).code).toBe(0);
    const want = readdirSync(out).sort();
    expect(readdirSync("docs/minosctl").sort()).toEqual(want);
    for (const name of want) expect(readFileSync(join("docs/minosctl", name), "utf8")).toBe(readFileSync(join(out, name), "utf8"));
    expect(want).toContain("minosctl_gen_config.md");
    expect(readFileSync("README.md", "utf8")).toContain("(docs/minosctl/README.md)");
  });
});

describe("completion", () => {
  test("bash: the script loads, registers minosctl, and completes commands, subcommands and flags", async () => {
    const script = join(dir, "minosctl.bash");
    writeFileSync(script, (await ctl("completion", "bash")).out);
    const loaded = Bun.spawnSync(["bash", "-c", `source <(cat ${script}) && complete -p minosctl`]);
    expect(loaded.exitCode).toBe(0);
    expect(loaded.stdout.toString()).toContain("-F _minosctl minosctl");
    const complete = (...words: string[]) => {
      const r = Bun.spawnSync([
        "bash",
        "-c",
        `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _minosctl; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ]);
      expect(r.exitCode).toBe(0);
      return r.stdout.toString().trim().split("\n");
    };
    expect(complete("minosctl", "lo").sort()).toEqual(["loadavg", "logs"]);
    expect(complete("minosctl", "gen", "").sort()).toEqual(["ca", "client", "config", "secrets"]);
    expect(complete("minosctl", "-n", "10.0.0.1", "logs", "--fo")).toEqual(["--follow"]);
    expect(complete("minosctl", "gen", "config", "--with")).toEqual(["--with-secrets"]);
  });

  test("zsh and fish scripts name every top-level command", async () => {
    const zsh = (await ctl("completion", "zsh")).out;
    const fish = (await ctl("completion", "fish")).out;
    expect(zsh).toStartWith("#compdef minosctl");
    for (const c of COMMANDS) {
      const top = c.name.split(" ")[0]!;
      expect(zsh).toContain(`'${top}:`);
      expect(fish).toContain(`-a ${top} `);
    }
    expect((await ctl("completion", "tcsh")).code).toBe(2);
  });
});

describe("--version", () => {
  test("every applet answers --version (dispatch), and minosctl version --client needs no node", async () => {
    for (const name of APPLET_NAMES) {
      const io = captureIo({});
      expect(await dispatch(name, ["--version"], io)).toBe(0);
      expect(io.out).toBe(`${name} version v${version}\n`);
    }
    const io = captureIo({});
    expect(await dispatch("minos", ["--version"], io)).toBe(0);
    expect(io.out).toBe(`minos version v${version}\n`);
    expect((await ctl("--version")).out).toBe(`minosctl version v${version}\n`);
    expect((await ctl("version", "--version")).out).toBe(`minosctl version v${version}\n`);
    const c = await ctl("-e", `unix:${join(dir, "none.sock")}`, "version", "--client");
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^Client:\n\tTag:\s+0\.1\.0\n\tRuntime:\s+bun /);
  });

  test("the compiled binary: --version for each applet name and minos ctl; its completion loads in bash", async () => {
    expect(existsSync("dist/minos")).toBe(true); // `bun run build` first
    const r = await Bun.$`dist/minos ctl --version`.nothrow().quiet();
    expect(r.stdout.toString()).toBe(`minosctl version v${version}\n`);
    const bash = Bun.spawnSync(["bash", "-c", "source <(dist/minos ctl completion bash) && complete -p minosctl"]);
    expect(bash.exitCode).toBe(0);
    expect(bash.stdout.toString()).toContain("-F _minosctl minosctl");
    for (const name of ["init", "wrapperd", "poweroff", "shutdown", "dashboard"]) {
      const x = await Bun.$`dist/minos ${name} --version`.nothrow().quiet();
      expect(x.exitCode).toBe(0);
      expect(x.stdout.toString()).toBe(`${name} version v${version}\n`);
    }
  });
});

describe("config subcommands on a talosconfig", () => {
  test("endpoint, node, context, contexts, merge, info", async () => {
    const cfg = join(dir, "talosconfig");
    writeFileSync(cfg, stringify({ context: "a", contexts: { a: { endpoints: ["1.1.1.1"] }, b: {} } }));
    const t = ["--talosconfig", cfg];
    expect((await ctl(...t, "config", "endpoint", "10.0.0.1", "10.0.0.2")).code).toBe(0);
    expect((await ctl(...t, "config", "node", "10.0.0.3,10.0.0.4")).code).toBe(0);
    expect(parse(readFileSync(cfg, "utf8")).contexts.a).toEqual({ endpoints: ["10.0.0.1", "10.0.0.2"], nodes: ["10.0.0.3", "10.0.0.4"] });
    const list = await ctl(...t, "config", "contexts");
    expect(list.out).toMatch(/^CURRENT\s+NAME\s+ENDPOINTS\s+NODES\n\*\s+a\s+10\.0\.0\.1,10\.0\.0\.2\s+10\.0\.0\.3,10\.0\.0\.4\n\s+b\n$/);
    expect((await ctl(...t, "config", "context", "b")).code).toBe(0);
    expect(parse(readFileSync(cfg, "utf8")).context).toBe("b");
    expect((await ctl(...t, "config", "context", "zz")).code).toBe(2);
    const other = join(dir, "other");
    writeFileSync(other, stringify({ context: "a", contexts: { a: { endpoints: ["9.9.9.9"] } } }));
    const m = await ctl(...t, "config", "merge", other);
    expect(m.out).toBe('renamed context "a" -> "a-1"\n');
    const merged = parse(readFileSync(cfg, "utf8"));
    expect(merged.context).toBe("a-1");
    expect(merged.contexts["a-1"].endpoints).toEqual(["9.9.9.9"]);
    const info = await ctl(...t, "config", "info");
    expect(info.out).toContain("Current context:     a-1\n");
    expect(info.out).toContain("Endpoints:           9.9.9.9\n");
    // A named config that does not exist is an error for every config subcommand that reads it.
    expect((await ctl("--talosconfig", join(dir, "missing"), "config", "info")).code).toBe(2);
  });
});
