// minosctl gen: make a node CA, or a client certificate for a role signed by it
// (and a client config that uses it). Runs offline on a workstation.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { yamlLib } from "../../config/yaml-lib.ts";
import { UsageError } from "../../lib/args.ts";
import type { Io } from "../../lib/io.ts";
import { ROLES, type Role } from "../../api/auth.ts";
import { generateCa, issueClientCert, type CertAndKey } from "../../api/pki/certs.ts";
import { contextFor, saveConfig } from "./config.ts";

export const GEN_USAGE = `usage: minosctl gen ca [--out DIR]
       minosctl gen client --role ROLE (--ca-crt FILE --ca-key FILE | --from-config FILE)
                           [--name NAME] [--out DIR] [--endpoint E] [--config FILE]
  ca       writes DIR/ca.crt and DIR/ca.key: a new Ed25519 node CA (machine.ca)
  client   writes DIR/NAME.crt and DIR/NAME.key, Organization = ROLE
           (${ROLES.join(", ")}); with --endpoint, also a client config
           (DIR/config, or --config FILE) for that endpoint
  --from-config FILE   take the CA from a machine config's machine.ca {crt, key}
`;

function write(path: string, text: string, mode: number): void {
  writeFileSync(path, text, { mode });
}

function pemOrBase64(v: unknown, what: string): string {
  if (typeof v !== "string" || !v) throw new UsageError(`${what} missing`);
  return v.includes("-----BEGIN") ? v : Buffer.from(v, "base64").toString("utf8");
}

/** The CA from a machine config (machine.ca.crt / machine.ca.key, PEM or base64 PEM as Talos stores them). */
export function caFromMachineConfig(yaml: string): CertAndKey {
  const doc = yamlLib().parse(yaml) as { machine?: { ca?: { crt?: string; key?: string; cert?: string } } } | null;
  const ca = doc?.machine?.ca;
  if (!ca) throw new UsageError("machine config has no machine.ca");
  return { cert: pemOrBase64(ca.crt ?? ca.cert, "machine.ca.crt"), key: pemOrBase64(ca.key, "machine.ca.key") };
}

export function genMain(positional: string[], flags: Record<string, unknown>, io: Io): number {
  const what = positional[0];
  const out = String(flags.out ?? ".");
  mkdirSync(out, { recursive: true });
  if (what === "ca") {
    const ca = generateCa();
    write(join(out, "ca.crt"), ca.cert, 0o644);
    write(join(out, "ca.key"), ca.key, 0o600);
    io.stdout(`wrote ${join(out, "ca.crt")} and ${join(out, "ca.key")}\n`);
    return 0;
  }
  if (what === "client") {
    const role = String(flags.role ?? "");
    if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
    let ca: CertAndKey;
    if (flags["from-config"] !== undefined) ca = caFromMachineConfig(readFileSync(String(flags["from-config"]), "utf8"));
    else {
      if (flags["ca-crt"] === undefined || flags["ca-key"] === undefined) throw new UsageError("gen client needs --ca-crt and --ca-key (or --from-config)");
      ca = { cert: readFileSync(String(flags["ca-crt"]), "utf8"), key: readFileSync(String(flags["ca-key"]), "utf8") };
    }
    const name = String(flags.name ?? role.replace(/^os:/, ""));
    const cert = issueClientCert(ca, role, name);
    write(join(out, `${name}.crt`), cert.cert, 0o644);
    write(join(out, `${name}.key`), cert.key, 0o600);
    io.stdout(`wrote ${join(out, `${name}.crt`)} and ${join(out, `${name}.key`)} (role ${role})\n`);
    if (flags.endpoint !== undefined) {
      const path = String(flags.config ?? join(out, "config"));
      if (existsSync(path) && flags.config === undefined) throw new UsageError(`${path} exists; pass --config to choose where the client config goes`);
      saveConfig(path, { context: "default", contexts: { default: contextFor([String(flags.endpoint)], { ca: ca.cert, cert: cert.cert, key: cert.key }) } });
      io.stdout(`wrote client config ${path}\n`);
    }
    return 0;
  }
  throw new UsageError(`gen: want "ca" or "client"\n${GEN_USAGE}`);
}
