// Where the machine config comes from, and how it is kept. Sources in order:
// the kernel cmdline's `minos.config=<path>`, the stored /system/state/config.yaml,
// then the built-in default. An invalid config is never applied and never
// replaces the stored one; the store is written atomically (temp file, fsync,
// rename, fsync of the directory) so a power cut leaves the old or the new file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { InvalidArgumentError, ResourceExhaustedError } from "../../lib/errors.ts";
import type { ConfigValidator } from "../../config/offthread.ts";
import type { Redaction } from "../../config/redact.ts";
import { validateConfig, type ValidatedConfig } from "../../config/validate.ts";
import { errText } from "../mechanisms/log.ts";
import { asMachineConfig, DEFAULT_CONFIG_TEXT, defaultConfig, parseConfig, type MachineConfig } from "./machine.ts";

import { STORED_CONFIG } from "../../node/paths.ts";

export { STORED_CONFIG };

export interface LoadedConfig {
  config: MachineConfig;
  /** The YAML text the config came from (the default's own YAML for the default). */
  text: string;
  source: "cmdline" | "stored" | "default";
  /** Why earlier sources were passed over (invalid, unreadable). */
  rejected: string[];
  /**
   * `text` as a non-admin may see it, made when the config was validated (off
   * PID 1's loop); absent for a config loaded inline (loadConfig), which is
   * then redacted on first use.
   */
  redaction?: Redaction;
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
  const text = DEFAULT_CONFIG_TEXT;
  return { config: defaultConfig(), text, source: "default", rejected };
}

/** What the boot allows for validating one config: a 1 MiB config on a slow (TCG) VM must still load. */
export const BOOT_VALIDATION_TIMEOUT_MS = 300_000;

/**
 * Configs up to this size are validated on init's own thread at boot. The
 * config phase runs before the API, the services and any child exist, so
 * there is nothing to keep responsive for the ~30 ms the first validation of
 * a typical (8 KiB) config takes. Starting the worker instead left ~7.7 MiB of
 * the runtime's pages mapped in PID 1 after the worker ended (a bare Bun
 * program: 23.5 -> 31.2 MiB). Larger configs still go to the worker: a 1 MiB
 * one takes seconds on a loaded node.
 */
export const BOOT_INLINE_MAX_BYTES = 64 * 1024;

/**
 * loadConfig, with every source larger than `inlineMaxBytes` validated in the
 * config worker (the event loop keeps reaping meanwhile), the others inline,
 * and each redacted for readers at the same time.
 */
export async function loadConfigOffThread(
  validator: ConfigValidator,
  cmdlinePath: string | undefined,
  storedPath = STORED_CONFIG,
  onWorkerFailure: (why: string) => void = () => {},
  inlineMaxBytes = BOOT_INLINE_MAX_BYTES,
): Promise<LoadedConfig> {
  const rejected: string[] = [];
  // A worker that cannot run must not cost the node its stored config (and CA): the boot parses inline then.
  const validate = async (bytes: Uint8Array): Promise<ValidatedConfig> => {
    if (bytes.length <= inlineMaxBytes) return validateConfig(bytes);
    try {
      return await validator.validate(bytes, { timeoutMs: BOOT_VALIDATION_TIMEOUT_MS });
    } catch (e) {
      if (e instanceof InvalidArgumentError || e instanceof ResourceExhaustedError) throw e;
      onWorkerFailure(`config worker failed (${errText(e)}); validating on the main thread`);
      return validateConfig(bytes);
    }
  };
  const attempt = async (path: string, label: string): Promise<Pick<LoadedConfig, "config" | "text" | "redaction"> | undefined> => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      rejected.push(`${label} ${path}: ${errText(e)}`);
      return undefined;
    }
    try {
      const v = await validate(bytes);
      return { config: asMachineConfig(v.config, v.documents), text: v.text, redaction: v.redaction };
    } catch (e) {
      rejected.push(`${label} ${path}: ${errText(e)}`);
      return undefined;
    }
  };
  if (cmdlinePath !== undefined) {
    const c = await attempt(cmdlinePath, "minos.config=");
    if (c) return { ...c, source: "cmdline", rejected };
  }
  if (existsSync(storedPath)) {
    const s = await attempt(storedPath, "stored config");
    if (s) return { ...s, source: "stored", rejected };
  }
  const text = DEFAULT_CONFIG_TEXT;
  return { config: defaultConfig(), text, source: "default", rejected, redaction: { text } };
}

/**
 * Validates `text` and, only when valid, replaces the stored config atomically.
 * Throws InvalidArgumentError (stored file untouched) otherwise.
 */
export function storeConfig(text: string, storedPath = STORED_CONFIG): MachineConfig {
  const config = parseConfig(text);
  storeValidated(text, storedPath);
  return config;
}

/**
 * Stores text that was already validated (the apply path parses once). Returns
 * only once the file and its directory entry are on disk; throws
 * ResourceExhaustedError (no space) or StoreError (any other errno) with the
 * stored file exactly as it was.
 */
export function storeValidated(text: string, storedPath = STORED_CONFIG): void {
  writeAtomically(storedPath, text);
}

/** A store that failed for a reason other than space: the errno and the step, for an INTERNAL reply. */
export class StoreError extends Error {
  override name = "StoreError";
}

/** errnos that mean "no room": the reply says RESOURCE_EXHAUSTED, not INTERNAL. */
const NO_SPACE = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

let tmpCounter = 0;

/**
 * temp file in the same directory, every write checked (a short write is
 * retried until the kernel refuses with its errno), fsync, rename over, fsync
 * of the directory. On any failure before the rename the temp file is removed
 * and `path` is untouched: the old file stays, byte for byte.
 */
export function writeAtomically(path: string, text: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path);
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const tmp = `${path}.tmp.${process.pid}.${Date.now()}.${++tmpCounter}`;
  let step = "mkdir";
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    removeStaleTemps(path);
    step = "create";
    fd = openSync(tmp, "wx", mode);
    step = "write";
    writeAll(fd, data);
    step = "fsync";
    fsyncSync(fd);
    step = "close";
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    step = "rename";
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    try {
      unlinkSync(tmp);
    } catch {}
    throw storeFailure(e, step, path, data.length, false);
  }
  // After the rename the new file is in place: a failed directory fsync cannot
  // bring the old one back, so the reply says exactly that.
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    throw storeFailure(e, "fsync of the directory", path, data.length, true);
  }
}

/** write(2) until every byte is in: a short write (a nearly full disk) is not success. */
function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = writeSync(fd, data, off, data.length - off);
    // write(2) returns 0 only for a zero-length request; treat it as "no room" rather than loop forever.
    if (n <= 0) throw Object.assign(new Error(`write returned ${n} at byte ${off} of ${data.length}`), { code: "ENOSPC" });
    off += n;
  }
}

/** A power cut between create and rename leaves a temp file: remove it, it only takes space. */
function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp.`;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {}
  }
}

function storeFailure(e: unknown, step: string, path: string, bytes: number, replaced: boolean): Error {
  const code = (e as { code?: unknown }).code;
  const errno = typeof code === "string" ? code : "error";
  const state = replaced ? `${path} holds the new config but may not survive a power cut` : `${path} is unchanged`;
  const why = errText(e);
  const text = `config not stored: ${step} of ${bytes} bytes failed (${why.startsWith(errno) ? why : `${errno}: ${why}`}); ${state}`;
  return NO_SPACE.has(errno) ? new ResourceExhaustedError(text) : new StoreError(text);
}
