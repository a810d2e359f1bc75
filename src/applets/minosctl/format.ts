// Output for minosctl: aligned tables for people, JSON or YAML for programs.
import { yamlLib } from "../../config/yaml-lib.ts";
import { UsageError } from "../../lib/args.ts";

export type OutputFormat = "table" | "json" | "yaml";

export function outputFormat(v: unknown): OutputFormat {
  const s = v === undefined ? "table" : String(v);
  if (s === "table" || s === "json" || s === "yaml") return s;
  throw new UsageError(`-o ${s}: want table, json or yaml`);
}

/** Columns separated by at least two spaces, padded to the widest cell (like Go's tabwriter). */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return (
    all
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
          .join("")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** bytes as base64 (as protobuf's JSON mapping does), everything else as decoded. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)));
}

export function structured(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? JSON.stringify(plain(value), null, 2) + "\n" : yamlLib().stringify(plain(value));
}

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** ls -l style mode string from st_mode. */
export function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? "d" : (mode & 0o170000) === 0o120000 ? "L" : (mode & 0o170000) === 0o100000 ? "-" : "?";
  const rwx = (m: number) => `${m & 4 ? "r" : "-"}${m & 2 ? "w" : "-"}${m & 1 ? "x" : "-"}`;
  return type + rwx(mode >> 6) + rwx(mode >> 3) + rwx(mode);
}
