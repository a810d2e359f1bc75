// Where the machine config comes from, and how it is kept. Sources in order:
// the kernel cmdline's `minos.config=<path>`, the stored /system/state/config.yaml,
// then the built-in default. An invalid config is never applied and never
// replaces the stored one; the store is written atomically (temp file, fsync,
// rename, fsync of the directory) so a power cut leaves the old or the new file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { errText } from "../mechanisms/log.ts";
import { defaultConfig, parseConfig, type MachineConfig } from "./machine.ts";

import { STORED_CONFIG } from "../../node/paths.ts";

export { STORED_CONFIG };

export interface LoadedConfig {
  config: MachineConfig;
  /** The YAML text the config came from (the default's own YAML for the default). */
  text: string;
  source: "cmdline" | "stored" | "default";
  /** Why earlier sources were passed over (invalid, unreadable). */
  rejected: string[];
}

/** Picks the first valid source. `cmdlinePath` is minos.config= (undefined when absent). */
export function loadConfig(cmdlinePath: string | undefined, storedPath = STORED_CONFIG): LoadedConfig {
  const rejected: string[] = [];
  const attempt = (path: string, label: string): { config: MachineConfig; text: string } | undefined => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      rejected.push(`${label} ${path}: ${errText(e)}`);
      return undefined;
    }
    try {
      return { config: parseConfig(text), text };
    } catch (e) {
      rejected.push(`${label} ${path}: ${errText(e)}`);
      return undefined;
    }
  };
  if (cmdlinePath !== undefined) {
    const c = attempt(cmdlinePath, "minos.config=");
    if (c) return { ...c, source: "cmdline", rejected };
  }
  if (existsSync(storedPath)) {
    const s = attempt(storedPath, "stored config");
    if (s) return { ...s, source: "stored", rejected };
  }
  const text = "version: v1alpha1\n";
  return { config: defaultConfig(), text, source: "default", rejected };
}

/**
 * Validates `text` and, only when valid, replaces the stored config atomically.
 * Throws InvalidArgumentError (stored file untouched) otherwise.
 */
export function storeConfig(text: string, storedPath = STORED_CONFIG): MachineConfig {
  const config = parseConfig(text);
  writeAtomically(storedPath, text);
  return config;
}

/** temp file in the same directory, fsync, rename over, fsync the directory. */
export function writeAtomically(path: string, text: string, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp.${process.pid}.${Date.now()}`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
