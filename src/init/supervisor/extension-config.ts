// What an ExtensionServiceConfig document does to its container service, as
// Talos's ExtensionServiceConfigFilesController and services/extension.go do
// it: each config file is written on the host under
// /system/overlays/extensions/<service>/ and bind-mounted read-only at its
// mountPath; the document's environment comes after the service's own, so it
// wins (containerd's WithEnv: a later KEY replaces an earlier one).
//
// Why /system/overlays (Talos's ExtensionServiceUserConfigPath) and not /var:
// the files are derived from the config, which is the only state. /system is
// in RAM when minos boots from its image (the initramfs; only /system/state is
// a disk), so each boot starts without them and writes exactly what the config
// in force says; a copy on /var (EPHEMERAL, kept across reboots) could outlive
// the document that made it. The writer also removes every file of the
// service's directory the document does not name, wherever /system lives.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { configFileName, EXTENSION_CONFIG_DIR, type ExtensionServiceConfig } from "../../config/extension-service.ts";
import { writeAtomically } from "../config/store.ts";
import type { OciMount } from "./oci-spec.ts";

/** Host path of the file for `mountPath` of service `name`. */
export function configFilePath(name: string, mountPath: string, root = EXTENSION_CONFIG_DIR): string {
  return join(root, name, configFileName(mountPath));
}

/** The read-only bind mounts of the document's files (Talos: options ro, bind). */
export function configFileMounts(doc: ExtensionServiceConfig, root = EXTENSION_CONFIG_DIR): OciMount[] {
  return doc.configFiles.map((f) => ({ destination: f.mountPath, type: "bind", source: configFilePath(doc.name, f.mountPath, root), options: ["bind", "ro"] }));
}

/**
 * Writes the document's files (each atomically: temp, fsync, rename, fsync of
 * the directory; mode 0644 as Talos) and removes any other file in the
 * service's directory, so the container sees exactly what the config says.
 * Returns the host paths written. Throws with the path and errno on failure.
 */
export function writeConfigFiles(doc: ExtensionServiceConfig, root = EXTENSION_CONFIG_DIR): string[] {
  const dir = join(root, doc.name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const written = doc.configFiles.map((f) => {
    const path = configFilePath(doc.name, f.mountPath, root);
    writeAtomically(path, f.content, 0o644);
    return path;
  });
  const keep = new Set(written.map((p) => p.slice(dir.length + 1)));
  for (const name of readdirSync(dir)) if (!keep.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
  return written;
}
