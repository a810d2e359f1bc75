// wrapperd's command line -> a validated Plan. Everything that can be wrong with
// the input is found here, before any step runs, so bad input never half-prepares
// a process (exit 2, nothing executed).
import { parseFlags, UsageError, type FlagSpec } from "../../lib/args.ts";
import { capNumber } from "../../sys/caps.ts";
import { RLIM_INFINITY, RLIMIT, type Rlimit } from "../../sys/process.ts";

export { UsageError };

/** Which capabilities the service keeps: all but `caps` ("drop") or only `caps` ("keep"). */
export interface CapRequest {
  mode: "drop" | "keep";
  caps: number[];
}

export interface RlimitRequest {
  name: string;
  resource: number;
  limit: Rlimit;
}

export interface Plan {
  name: string | null;
  ctty: string | null;
  oomScore: number | null;
  cgroupPath: string | null;
  rlimits: RlimitRequest[];
  caps: CapRequest | null;
  groups: number[] | null;
  gid: number | null;
  uid: number | null;
  cwd: string | null;
  env: [string, string][];
  clearEnv: boolean;
  noNewPrivs: boolean;
  /** The service: path (or a name looked up in PATH) and its argv, argv[0] included. */
  command: string[];
}

const SINGLE = ["name", "ctty", "oom-score", "cgroup-path", "dropped-caps", "keep-caps", "groups", "gid", "uid", "cwd"];
const REPEATABLE = ["rlimit", "env"];

export const WRAPPERD_FLAGS: FlagSpec = {
  // Repeatable flags are strings: a repeated string flag collects an array.
  string: [...SINGLE, ...REPEATABLE],
  boolean: ["no-new-privs", "clear-env", "help"],
  goStyle: true,
};

/** Parses argv; null means --help was asked for. Throws UsageError on bad input. */
export function parsePlan(argv: string[]): Plan | null {
  const { flags, positional, rest } = parseFlags(argv, WRAPPERD_FLAGS);
  if (flags.help === true) return null;
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}": the service goes after --`);
  if (rest.length === 0 || rest[0] === "") throw new UsageError("nothing to run: give the service after --");
  const one = (key: string): string | null => single(flags, key);
  const dropped = one("dropped-caps");
  const keep = one("keep-caps");
  if (dropped !== null && keep !== null) throw new UsageError("--dropped-caps and --keep-caps exclude each other");
  const uid = one("uid");
  const gid = one("gid");
  const groups = one("groups");
  const oom = one("oom-score");
  return {
    name: one("name"),
    ctty: nonEmpty("ctty", one("ctty")),
    oomScore: oom === null ? null : parseOomScore(oom),
    cgroupPath: parseCgroupPath(one("cgroup-path")),
    rlimits: many(flags, "rlimit").map(parseRlimit),
    caps: dropped !== null ? { mode: "drop", caps: parseCaps(dropped) } : keep !== null ? { mode: "keep", caps: parseCaps(keep) } : null,
    groups:
      groups === null
        ? null
        : groups
            .split(",")
            .filter((g) => g.trim() !== "")
            .map((g) => parseId("groups", g)),
    gid: gid === null ? null : parseId("gid", gid),
    uid: uid === null ? null : parseId("uid", uid),
    cwd: nonEmpty("cwd", one("cwd")),
    env: many(flags, "env").map(parseEnv),
    clearEnv: flags["clear-env"] === true,
    // The flag parser reads --no-new-privs as the negation of "new-privs".
    noNewPrivs: flags["no-new-privs"] === true || flags["new-privs"] === false,
    command: rest,
  };
}

function single(flags: Record<string, unknown>, key: string): string | null {
  const v = flags[key];
  if (v === undefined) return null;
  if (Array.isArray(v)) throw new UsageError(`--${key} given more than once`);
  return String(v);
}

function many(flags: Record<string, unknown>, key: string): string[] {
  const v = flags[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function nonEmpty(key: string, v: string | null): string | null {
  if (v === "") throw new UsageError(`--${key} needs a value`);
  return v;
}

/** "SYS_ADMIN, cap_net_raw" -> [21, 13]; unknown names are an error, not ignored. */
export function parseCaps(list: string): number[] {
  const out: number[] = [];
  for (const raw of list.split(",")) {
    if (raw.trim() === "") continue;
    const n = capNumber(raw);
    if (n === undefined) throw new UsageError(`unknown capability "${raw.trim()}"`);
    out.push(n);
  }
  return out;
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged" to the kernel

/** A numeric uid/gid: decimal digits only, so "-1", "nobody" and "1e3" are refused. */
export function parseId(key: string, v: string): number {
  const s = v.trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > MAX_ID) throw new UsageError(`--${key}: "${v}" is not a numeric id (0..${MAX_ID})`);
  return n;
}

function parseOomScore(v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || n < -1000 || n > 1000) throw new UsageError(`--oom-score: "${v}" is not an integer in -1000..1000`);
  return n;
}

function parseCgroupPath(v: string | null): string | null {
  if (v === null) return null;
  const parts = v.split("/").filter((p) => p !== "");
  if (parts.length === 0 || parts.some((p) => p === "." || p === "..")) {
    throw new UsageError(`--cgroup-path: "${v}" must name a cgroup below the root, without . or ..`);
  }
  return "/" + parts.join("/");
}

/** "NOFILE=1024:4096", "rlimit_nofile=4096", "CORE=unlimited". */
export function parseRlimit(spec: string): RlimitRequest {
  const m = /^(?:RLIMIT_)?([A-Z]+)=([^:]+)(?::([^:]+))?$/i.exec(spec.trim());
  const bad = (why: string) => new UsageError(`--rlimit "${spec}": ${why} (want NAME=SOFT:HARD or NAME=VALUE)`);
  if (!m) throw bad("bad syntax");
  const name = m[1]!.toUpperCase();
  const resource = (RLIMIT as Record<string, number>)[name];
  if (resource === undefined) throw bad(`unknown limit RLIMIT_${name}`);
  const soft = rlimitValue(m[2]!);
  const hard = m[3] === undefined ? soft : rlimitValue(m[3]);
  if (soft === null || hard === null) throw bad("values are decimal numbers or unlimited");
  if (soft > hard) throw bad("soft limit above hard limit");
  return { name, resource, limit: { soft, hard } };
}

function rlimitValue(v: string): bigint | null {
  const s = v.trim().toLowerCase();
  if (s === "unlimited" || s === "infinity") return RLIM_INFINITY;
  if (!/^\d+$/.test(s)) return null;
  const n = BigInt(s);
  return n >= RLIM_INFINITY ? null : n;
}

function parseEnv(spec: string): [string, string] {
  const eq = spec.indexOf("=");
  if (eq <= 0 || spec.includes("\0")) throw new UsageError(`--env "${spec}": want KEY=VALUE`);
  return [spec.slice(0, eq), spec.slice(eq + 1)];
}
