// minosctl commands that run on the workstation: the client config
// (`config ...`), offline validation, generating secrets and configs, and
// patching a node's config (get, patch locally, apply).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { yamlLib } from "../../config/yaml-lib.ts";
import { UsageError } from "../../lib/args.ts";
import { InvalidArgumentError } from "../../lib/errors.ts";
import type { ConfigPatch } from "../../config/patch.ts";
import { X509Certificate } from "node:crypto";
import type { Command, CommandContext } from "./cli.ts";
import { listFlag } from "./cli.ts";
import { applyConfig } from "./commands.ts";
import { currentContextName, loadConfig, saveConfig, tlsOf, type ClientConfig } from "./config.ts";
import { structured, table } from "./format.ts";
import type { SecretsBundle } from "./genconfig.ts";

// The schema, the patcher and the PKI are loaded by the commands that use them:
// every other minosctl command starts without them (~10-15 ms of module load).
const parser = () => import("../../config/parse.ts");
const patcher = () => import("../../config/patch.ts");
const generator = () => import("./genconfig.ts");

function readConfigFile(ctx: CommandContext): ClientConfig {
  return loadConfig(ctx.configPath, ctx.configExplicit);
}

function contextName(ctx: CommandContext, cfg: ClientConfig): string {
  return currentContextName(cfg, ctx.flags.context === undefined ? undefined : String(ctx.flags.context));
}

/** The current context, which `config endpoint|node` edit: it must exist. */
function editableContext(ctx: CommandContext, cfg: ClientConfig) {
  const name = contextName(ctx, cfg);
  const c = cfg.contexts && Object.hasOwn(cfg.contexts, name) ? cfg.contexts[name] : undefined;
  if (!c) throw new UsageError(`no context "${name}" in ${ctx.configPath}`);
  return c;
}

async function patchesOf(values: unknown, readFile = (p: string) => readFileSync(p, "utf8")): Promise<ConfigPatch[]> {
  const { loadPatch, patchSource } = await patcher();
  return listFlagRaw(values).map((arg) => {
    const { text, what } = patchSource(arg, readFile);
    return loadPatch(text, what);
  });
}

/** A repeatable flag's values, not split at commas (a patch may contain commas). */
function listFlagRaw(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

const configCommands: Command[] = [
  {
    name: "config endpoint",
    args: "ENDPOINT...",
    summary: "set the current context's endpoints",
    async run(ctx) {
      const cfg = readConfigFile(ctx);
      editableContext(ctx, cfg).endpoints = listFlag(ctx.positional);
      saveConfig(ctx.configPath, cfg);
      return 0;
    },
  },
  {
    name: "config node",
    args: "NODE...",
    summary: "set the current context's nodes",
    async run(ctx) {
      const cfg = readConfigFile(ctx);
      editableContext(ctx, cfg).nodes = listFlag(ctx.positional);
      saveConfig(ctx.configPath, cfg);
      return 0;
    },
  },
  {
    name: "config context",
    args: "NAME",
    summary: "make NAME the current context",
    async run(ctx) {
      const name = ctx.positional[0];
      if (name === undefined) throw new UsageError("missing context name");
      const cfg = readConfigFile(ctx);
      if (!cfg.contexts || !Object.hasOwn(cfg.contexts, name)) throw new UsageError(`no context "${name}" in ${ctx.configPath}`);
      cfg.context = name;
      saveConfig(ctx.configPath, cfg);
      return 0;
    },
  },
  {
    name: "config contexts",
    summary: "list the contexts",
    async run(ctx) {
      const cfg = readConfigFile(ctx);
      const current = contextName(ctx, cfg);
      const rows = Object.entries(cfg.contexts ?? {}).map(([name, c]) => [
        name === current ? "*" : "",
        name,
        (c.endpoints ?? []).join(","),
        (c.nodes ?? []).join(","),
      ]);
      ctx.io.stdout(ctx.output === "table" ? table(["CURRENT", "NAME", "ENDPOINTS", "NODES"], rows) : structured(cfg.contexts ?? {}, ctx.output));
      return 0;
    },
  },
  {
    name: "config merge",
    args: "FILE",
    summary: "add FILE's contexts to the client config (a name taken already gets -1, -2, ...)",
    async run(ctx) {
      const from = ctx.positional[0];
      if (from === undefined) throw new UsageError("missing the config file to merge");
      const other = loadConfig(from, true);
      const cfg = existsSync(ctx.configPath) ? readConfigFile(ctx) : {};
      cfg.contexts ??= {};
      let firstName: string | undefined;
      for (const [name, c] of Object.entries(other.contexts ?? {})) {
        let n = name;
        for (let i = 1; Object.hasOwn(cfg.contexts, n); i++) n = `${name}-${i}`;
        if (n !== name) ctx.io.stdout(`renamed context "${name}" -> "${n}"\n`);
        cfg.contexts[n] = c;
        if (name === other.context) firstName = n;
      }
      if (firstName !== undefined) cfg.context = firstName;
      saveConfig(ctx.configPath, cfg);
      return 0;
    },
  },
  {
    name: "config info",
    summary: "the current context: endpoints, nodes, role and certificate expiry",
    async run(ctx) {
      const cfg = readConfigFile(ctx);
      const name = contextName(ctx, cfg);
      const c = editableContext(ctx, cfg);
      const tls = tlsOf(c);
      const cert = tls ? new X509Certificate(tls.cert) : undefined;
      const roles = cert ? (/O=([^\n]+)/.exec(cert.subject)?.[1] ?? "") : "";
      const info = {
        context: name,
        endpoints: c.endpoints ?? [],
        nodes: c.nodes ?? [],
        roles: roles ? roles.split("+") : [],
        expires: cert ? new Date(cert.validTo).toISOString() : undefined,
      };
      ctx.io.stdout(
        ctx.output === "table"
          ? [
              `Current context:     ${info.context}`,
              `Nodes:               ${info.nodes.join(", ") || "not defined"}`,
              `Endpoints:           ${info.endpoints.join(", ") || "not defined"}`,
              `Roles:               ${info.roles.join(", ") || "not defined"}`,
              `Certificate expires: ${info.expires ?? "no certificate"}`,
              "",
            ].join("\n")
          : structured(info, ctx.output),
      );
      return 0;
    },
  },
];

/** Prints a validation's outcome; 1 when the config is refused. */
async function report(ctx: CommandContext, text: string | Uint8Array, what: string): Promise<number> {
  const { parseConfigDocuments } = await parser();
  try {
    const parsed = parseConfigDocuments(text);
    for (const w of parsed.warnings) ctx.io.stderr(`warning: ${w}\n`);
    ctx.io.stdout(`${what} is valid for ${String(ctx.flags.mode ?? "metal")} mode\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    ctx.io.stderr(`${e.message}\n`);
    return 1;
  }
}

const MODES = ["metal", "cloud", "container"];

const validateCommand: Command = {
  name: "validate",
  summary: "check a machine config offline with the node's own parser (errors and accepted-but-not-applied warnings)",
  description: "Exit code 1 when the config has errors. minos validates the same way in every mode; --mode is checked and reported.",
  flags: [
    { name: "config", short: "c", value: "FILE", help: "the machine config to check" },
    { name: "mode", short: "m", value: "MODE", help: "metal (default), cloud or container" },
    { name: "strict", help: "treat warnings as errors" },
  ],
  async run(ctx) {
    if (ctx.flags.config === undefined) throw new UsageError("validate needs --config FILE");
    const mode = String(ctx.flags.mode ?? "metal");
    if (!MODES.includes(mode)) throw new UsageError(`--mode ${mode}: want ${MODES.join(", ")}`);
    const file = String(ctx.flags.config);
    const data = readFileSync(file);
    const code = await report(ctx, data, file);
    if (code === 0 && ctx.flags.strict && (await parser()).parseConfigDocuments(data).warnings.length) return 1;
    return code;
  },
};

const patchCommand: Command = {
  name: "patch machineconfig",
  summary: "patch the node's machine config: get it, apply the patches here, send it back",
  description:
    "Patches are strategic merge patches (partial config documents) or JSON patches (RFC 6902: a list of operations), as talosctl takes them: `@FILE`, inline YAML/JSON, or a file name. A patch that does not apply is an error naming the operation, and nothing is sent: the node's config is untouched.",
  flags: [
    { name: "patch", short: "p", value: "PATCH", repeat: true, help: "a patch: @FILE, inline YAML/JSON, or a file name" },
    { name: "patch-file", value: "FILE", repeat: true, help: "a patch from a file (the same as --patch @FILE)" },
    { name: "mode", short: "m", value: "MODE", help: "apply mode: auto (default), no-reboot, reboot, staged or try" },
    { name: "dry-run", help: "only report what would change; nothing is applied" },
  ],
  async run(ctx) {
    const patches = [...(await patchesOf(ctx.flags.patch)), ...(await patchesOf(listFlagRaw(ctx.flags["patch-file"]).map((f) => `@${f}`)))];
    if (patches.length === 0) throw new UsageError("patch machineconfig needs --patch");
    if (ctx.nodes.length > 1) throw new UsageError("patch machineconfig patches one node at a time (each node's config differs): pass one -n");
    const res = await ctx.client().call("minos.machine.MinosService", "GetConfiguration", {});
    const current = Buffer.from(res.messages[0]?.data ?? new Uint8Array()).toString("utf8");
    if (/\bREDACTED\b/.test(current))
      throw new UsageError("the node sent its config with secrets redacted (role below os:admin): patching needs an os:admin certificate");
    const patched = (await patcher()).applyPatches(current, patches);
    (await parser()).parseConfigDocuments(patched); // refuse here, naming the problem, before anything is sent
    return applyConfig(ctx, Buffer.from(patched));
  },
};

function writeOut(ctx: CommandContext, dir: string, name: string, text: string, mode: number): void {
  const path = join(dir, name);
  if (existsSync(path) && !ctx.flags.force) throw new UsageError(`${path} exists (pass --force to overwrite)`);
  writeFileSync(path, text, { mode });
  ctx.io.stdout(`created ${path}\n`);
}

function readSecrets(path: string): SecretsBundle {
  const s = yamlLib().parse(readFileSync(path, "utf8")) as SecretsBundle | null;
  if (!s?.certs?.os?.crt || !s.certs.os.key || !s.cluster || !s.secrets || !s.trustdinfo)
    throw new UsageError(`${path}: not a secrets bundle (minosctl gen secrets / talosctl gen secrets)`);
  return s;
}

const genCommands: Command[] = [
  {
    name: "gen secrets",
    summary: "a new secrets bundle (CAs, keys, tokens) as talosctl gen secrets writes it",
    flags: [
      { name: "output-file", short: "o", value: "FILE", help: "where to write it (default secrets.yaml)" },
      { name: "force", help: "overwrite an existing file" },
    ],
    async run(ctx) {
      const path = String(ctx.flags["output-file"] ?? "secrets.yaml");
      if (existsSync(path) && !ctx.flags.force) throw new UsageError(`${path} exists (pass --force to overwrite)`);
      const { generateSecrets, secretsYaml } = await generator();
      writeFileSync(path, secretsYaml(generateSecrets()), { mode: 0o600 });
      ctx.io.stdout(`created ${path}\n`);
      return 0;
    },
  },
  {
    name: "gen config",
    args: "NAME https://ENDPOINT:6443",
    summary: "controlplane.yaml, worker.yaml and talosconfig for a new cluster, with fresh secrets (or --with-secrets)",
    flags: [
      { name: "output-dir", value: "DIR", help: "where to write the files (default .)" },
      { name: "with-secrets", value: "FILE", help: "take the secrets from a bundle (gen secrets) instead of making new ones" },
      { name: "config-patch", value: "PATCH", repeat: true, help: "a patch for both configs: @FILE, inline YAML/JSON, or a file name" },
      { name: "config-patch-control-plane", value: "PATCH", repeat: true, help: "a patch for controlplane.yaml only" },
      { name: "config-patch-worker", value: "PATCH", repeat: true, help: "a patch for worker.yaml only" },
      { name: "kubernetes-version", value: "VERSION", help: "Kubernetes version of the images (default 1.30.3)" },
      { name: "install-disk", value: "DISK", help: "machine.install.disk (default /dev/sda)" },
      { name: "install-image", value: "IMAGE", help: "machine.install.image" },
      { name: "additional-sans", value: "LIST", repeat: true, help: "more names for the API server's certificate" },
      { name: "force", help: "overwrite existing files" },
    ],
    async run(ctx) {
      const [name, endpoint] = ctx.positional;
      if (!name || !endpoint) throw new UsageError("gen config needs NAME and https://ENDPOINT:6443");
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        throw new UsageError(`gen config: "${endpoint}" is not a URL (want https://ENDPOINT:6443)`);
      }
      if (url.protocol !== "https:") throw new UsageError(`gen config: the endpoint must be https://, got "${endpoint}"`);
      const { generateConfigs, generateSecrets } = await generator();
      const { parseConfigDocuments } = await parser();
      const secrets = ctx.flags["with-secrets"] === undefined ? generateSecrets() : readSecrets(String(ctx.flags["with-secrets"]));
      const out = generateConfigs(
        {
          clusterName: name,
          endpoint,
          secrets,
          kubernetesVersion: ctx.flags["kubernetes-version"] === undefined ? undefined : String(ctx.flags["kubernetes-version"]).replace(/^v/, ""),
          installDisk: ctx.flags["install-disk"] === undefined ? undefined : String(ctx.flags["install-disk"]),
          installImage: ctx.flags["install-image"] === undefined ? undefined : String(ctx.flags["install-image"]),
          additionalSans: listFlag(ctx.flags["additional-sans"]),
          patches: await patchesOf(ctx.flags["config-patch"]),
          controlPlanePatches: await patchesOf(ctx.flags["config-patch-control-plane"]),
          workerPatches: await patchesOf(ctx.flags["config-patch-worker"]),
        },
        ["127.0.0.1"],
      );
      // What minos writes, minos accepts: refuse to write a config the node would refuse (a bad patch, say).
      for (const [file, text] of [
        ["controlplane.yaml", out.controlplane],
        ["worker.yaml", out.worker],
      ] as const) {
        try {
          parseConfigDocuments(text);
        } catch (e) {
          throw new InvalidArgumentError(`${file}: ${(e as Error).message}`);
        }
      }
      const dir = String(ctx.flags["output-dir"] ?? ".");
      mkdirSync(dir, { recursive: true });
      writeOut(ctx, dir, "controlplane.yaml", out.controlplane, 0o600);
      writeOut(ctx, dir, "worker.yaml", out.worker, 0o600);
      writeOut(ctx, dir, "talosconfig", out.talosconfig, 0o600);
      return 0;
    },
  },
  {
    name: "gen ca",
    summary: "a new Ed25519 node CA (machine.ca): DIR/ca.crt and DIR/ca.key",
    flags: [{ name: "out", value: "DIR", help: "where to write (default .)" }],
    async run(ctx) {
      return (await import("./gen.ts")).genMain(["ca"], ctx.flags, ctx.io);
    },
  },
  {
    name: "gen client",
    summary: "a client certificate for a role, signed by a node CA (and a client config with --endpoint)",
    description: "With --endpoint, also a client config (DIR/config, or --config FILE) for that endpoint, using the new certificate.",
    flags: [
      { name: "role", value: "ROLE", help: "os:admin, os:operator or os:reader (the certificate's Organization)" },
      { name: "ca-crt", value: "FILE", help: "the CA certificate (PEM)" },
      { name: "ca-key", value: "FILE", help: "the CA key (PEM)" },
      { name: "from-config", value: "FILE", help: "take the CA from a machine config's machine.ca" },
      { name: "name", value: "NAME", help: "the certificate's file name and common name (default: the role without os:)" },
      { name: "out", value: "DIR", help: "where to write (default .)" },
      { name: "endpoint", value: "ENDPOINT", help: "also write a client config for this endpoint" },
      { name: "config", value: "FILE", help: "where that client config goes (default DIR/config)" },
    ],
    async run(ctx) {
      return (await import("./gen.ts")).genMain(["client"], ctx.flags, ctx.io);
    },
  },
];

export const LOCAL_COMMANDS: Command[] = [...configCommands, validateCommand, patchCommand, ...genCommands];
