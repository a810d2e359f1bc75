// Talos's machine.install.diskSelector: every given field must match. As in
// Talos: `size` is "[op] size" with op one of == (the default) >= <= > <, sizes
// in go-humanize units ("4GB" = 4·10^9 bytes, "4GiB" = 4·2^30); model, serial,
// modalias, uuid, wwid and busPath are globs in which only `*` is special
// (matching any run of characters, "/" included); type ssd / hdd is
// non-rotational / rotational, nvme and sd the nvme and mmc transports; and a
// disk is never selected when it is read-only, a CD-ROM, or of unknown
// transport (so loop and device-mapper devices never are). `name` (which Talos
// no longer accepts) matches the disk's kernel name ("sda", or "/dev/sda") or
// its device/name.
import { InvalidArgumentError, NotFoundError } from "../lib/errors.ts";
import type { BlockDisk } from "./discover.ts";
import { formatBytes, parseBytes } from "./units.ts";

export interface DiskSelector {
  size?: string;
  name?: string;
  model?: string;
  serial?: string;
  modalias?: string;
  uuid?: string;
  wwid?: string;
  type?: string;
  busPath?: string;
}

export type SizeOp = "==" | ">=" | "<=" | ">" | "<";

export interface SizeMatcher {
  op: SizeOp;
  bytes: number;
}

/** "4GB", ">= 1TB", "<2TB" → op and bytes; InvalidArgumentError on anything else. */
export function parseSizeMatcher(text: string): SizeMatcher {
  const m = /^\s*(>=|<=|==|>|<)?\s*(.*?)\s*$/.exec(text)!;
  try {
    return { op: (m[1] as SizeOp | undefined) ?? "==", bytes: parseBytes(m[2]!) };
  } catch (e) {
    throw new InvalidArgumentError(`machine.install.diskSelector.size: ${(e as Error).message} (expected [>=|<=|>|<|==]<size>[units], e.g. ">= 100GB")`);
  }
}

/** ryanuber/go-glob semantics (what Talos uses): `*` matches any run, nothing else is special. */
export function glob(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === value;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!value.startsWith(first)) return false;
  let pos = first.length;
  for (const mid of parts.slice(1, -1)) {
    const at = value.indexOf(mid, pos);
    if (at === -1) return false;
    pos = at + mid.length;
  }
  return value.length - pos >= last.length && value.endsWith(last);
}

const TYPES = ["ssd", "hdd", "nvme", "sd"];

function compare(op: SizeOp, a: number, b: number): boolean {
  switch (op) {
    case "==":
      return a === b;
    case ">=":
      return a >= b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case "<":
      return a < b;
  }
}

/** Checks the selector itself (size syntax, type value); InvalidArgumentError with the field's path. */
export function validateSelector(sel: DiskSelector): void {
  if (sel.size !== undefined) parseSizeMatcher(sel.size);
  if (sel.type !== undefined && !TYPES.includes(sel.type))
    throw new InvalidArgumentError(`machine.install.diskSelector.type: "${sel.type}" is not one of ${TYPES.join(", ")}`);
}

/** Why `disk` does not match (the first failing condition), or undefined when it does. */
export function mismatch(sel: DiskSelector, disk: BlockDisk): string | undefined {
  if (disk.readonly) return "read-only";
  if (disk.cdrom) return "a CD-ROM";
  if (disk.transport === "") return "unknown transport";
  if (sel.size !== undefined) {
    const m = parseSizeMatcher(sel.size);
    if (!compare(m.op, disk.size, m.bytes)) return `size ${disk.size} (${formatBytes(disk.size)}) is not ${m.op} ${m.bytes}`;
  }
  if (sel.name !== undefined && !glob(sel.name, disk.name) && !glob(sel.name, disk.devPath) && !(disk.hardwareName && glob(sel.name, disk.hardwareName)))
    return `name ${disk.name} does not match "${sel.name}"`;
  const fields = [
    ["model", sel.model, disk.model],
    ["serial", sel.serial, disk.serial],
    ["modalias", sel.modalias, disk.modalias],
    ["uuid", sel.uuid, disk.uuid],
    ["wwid", sel.wwid, disk.wwid],
    ["busPath", sel.busPath, disk.busPath],
  ] as const;
  for (const [field, pattern, value] of fields) {
    if (pattern !== undefined && !glob(pattern, value)) return `${field} "${value}" does not match "${pattern}"`;
  }
  switch (sel.type) {
    case undefined:
      break;
    case "nvme":
      if (disk.transport !== "nvme") return `type: transport ${disk.transport} is not nvme`;
      break;
    case "sd":
      if (disk.transport !== "mmc") return `type: transport ${disk.transport} is not mmc`;
      break;
    case "hdd":
      if (!disk.rotational) return "type: not rotational (not an hdd)";
      break;
    case "ssd":
      if (disk.rotational) return "type: rotational (not an ssd)";
      break;
    default:
      return `type "${sel.type}" is not one of ${TYPES.join(", ")}`;
  }
  return undefined;
}

function describeSelector(sel: DiskSelector): string {
  return Object.entries(sel)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(", ");
}

/**
 * The first disk (in the order given; discoverDisks sorts by name) that
 * matches every field. NotFoundError names every candidate and why it failed.
 */
export function selectDisk(sel: DiskSelector, disks: readonly BlockDisk[]): BlockDisk {
  validateSelector(sel);
  const why: string[] = [];
  for (const d of disks) {
    const reason = mismatch(sel, d);
    if (reason === undefined) return d;
    why.push(`${d.name} (${formatBytes(d.size)}, ${d.transport || "no transport"}, ${d.type}): ${reason}`);
  }
  throw new NotFoundError(
    `no disk matches the install disk selector (${describeSelector(sel) || "empty"}): ${disks.length ? `candidates were ${why.join("; ")}` : "there are no disks"}`,
  );
}
