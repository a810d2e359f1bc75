// Talos's ExtensionServiceConfig document (v1alpha1, Talos 1.7
// pkg/machinery/config/types/runtime/extensions): config files and environment
// for the extension service of that name. In Talos the files are written under
// /system/overlays/extensions/<name>/ (one file per mountPath, named by the
// path with "/" turned into "-") and bind-mounted read-only at mountPath; the
// environment is appended after the service's own, so it wins. minos applies
// the document to the minos.services entry with that id and an image.
//
// The value checks below run inside the schema walk (so every problem carries
// its YAML path); checkExtensionServiceConfig adds the rules across one
// document's fields, and extensionServiceWarnings the one across documents.
import type { Check } from "./checks.ts";

/** One config file: its content, and where the container sees it. */
export interface ExtensionConfigFile {
  content: string;
  mountPath: string;
}

/** An ExtensionServiceConfig document as init applies it. */
export interface ExtensionServiceConfig {
  name: string;
  configFiles: ExtensionConfigFile[];
  environment: string[];
}

/** Talos's ExtensionServiceUserConfigPath: where the files live on the host, one directory per service. */
export const EXTENSION_CONFIG_DIR = "/system/overlays/extensions";

/** Talos's file name for a mountPath: the path without its leading "/", every "/" a "-" (/etc/nut/ups.conf -> etc-nut-ups.conf). */
export function configFileName(mountPath: string): string {
  return mountPath.replace(/^\/+/, "").replaceAll("/", "-");
}

export const extensionName: Check = (v) => (v === "" ? "must not be empty (Talos: name is required)" : undefined);

/** Talos refuses a config file without content. */
export const configFileContent: Check = (v) => (v === "" ? "must not be empty (Talos: extension content is required)" : undefined);

/** Where the file is bind-mounted in the container: an absolute, normalised path to a file (not "/"). */
export const mountPath: Check = (v) => {
  const parts = v.split("/");
  if (parts[0] !== "" || v === "/" || v.includes("\0")) return `"${v}" must be an absolute path to a file (the container sees the file there)`;
  if (parts.slice(1).some((p) => p === "" || p === "." || p === "..")) return `"${v}" must be an absolute path without empty, . or .. components`;
  return undefined;
};

/** KEY=value, as the container's environment takes it; the value may be empty, the name may not. */
export const environmentEntry: Check = (v) => {
  const eq = v.indexOf("=");
  if (eq < 0) return `"${v}" must be KEY=value (no "=")`;
  if (eq === 0) return `"${v}" has no variable name before "="`;
  const name = v.slice(0, eq);
  if (/\s/.test(name)) return `"${v}": the name "${name}" contains whitespace`;
  if (v.includes("\0")) return `"${v}" contains a NUL byte`;
  return undefined;
};

/**
 * The rules across one document's fields (`prefix` is its YAML path, e.g.
 * `document[1]`). Values that failed their own check are skipped here.
 */
export function checkExtensionServiceConfig(doc: Partial<ExtensionServiceConfig>, prefix: string, errors: string[]): void {
  const files = doc.configFiles ?? [];
  const env = doc.environment ?? [];
  if (files.length === 0 && env.length === 0)
    errors.push(`${prefix}: neither configFiles nor environment given (Talos: no config files found for extension "${doc.name ?? ""}")`);
  const byPath = new Map<string, number>();
  const byFile = new Map<string, number>();
  files.forEach((f, i) => {
    if (typeof f?.mountPath !== "string" || mountPath(f.mountPath) !== undefined) return;
    const at = `${prefix}.configFiles[${i}].mountPath`;
    const same = byPath.get(f.mountPath);
    if (same !== undefined) {
      errors.push(`${at}: "${f.mountPath}" is configFiles[${same}]'s mountPath too`);
      return;
    }
    byPath.set(f.mountPath, i);
    // Talos's naming folds "/" into "-": two paths that fold alike would share one host file.
    const file = configFileName(f.mountPath);
    const other = byFile.get(file);
    if (other !== undefined) errors.push(`${at}: "${f.mountPath}" and configFiles[${other}] ("${files[other]!.mountPath}") would share the host file ${file}`);
    else byFile.set(file, i);
  });
}

/**
 * Warnings for documents that configure nothing (Talos accepts them too: its
 * extension services come with the installed image, unknown to the config):
 * no minos.services entry of that id, or one without an image (only
 * containers take config files and this environment).
 */
export function extensionServiceWarnings(
  docs: { index: number; value: ExtensionServiceConfig }[],
  services: readonly { id: string; image?: string | undefined }[],
): string[] {
  const out: string[] = [];
  for (const { index, value } of docs) {
    const s = services.find((x) => x.id === value.name);
    const at = `document[${index}].name`;
    if (!s) out.push(`${at}: no minos.services entry is named "${value.name}": this ExtensionServiceConfig configures nothing`);
    else if (s.image === undefined)
      out.push(`${at}: minos.services "${value.name}" has no image: ExtensionServiceConfig applies to container services only, so it configures nothing`);
  }
  return out;
}
