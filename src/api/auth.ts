// Roles (Talos RBAC): a client certificate's Organization names the caller's
// role; the local socket is admin. Each method names the least role it needs.
import { resolve } from "node:path";
import { realpathSync } from "node:fs";
import { PermissionDeniedError } from "../lib/errors.ts";

export type Role = "os:admin" | "os:operator" | "os:reader";

export const ROLES: readonly Role[] = ["os:reader", "os:operator", "os:admin"];
const RANK: Record<Role, number> = { "os:reader": 0, "os:operator": 1, "os:admin": 2 };

/**
 * Methods a reader may not call and the least role that may. Everything not
 * listed is read-only and open to every role; unknown paths never reach a
 * handler (grpc-js answers UNIMPLEMENTED).
 */
const REQUIRED: Record<string, Role> = {
  "/machine.MachineService/Shutdown": "os:operator",
  "/machine.MachineService/Reboot": "os:operator",
  "/machine.MachineService/ServiceStart": "os:operator",
  "/machine.MachineService/ServiceStop": "os:operator",
  "/machine.MachineService/ServiceRestart": "os:operator",
  "/minos.machine.MinosService/ScheduleShutdown": "os:operator",
  "/minos.machine.MinosService/CancelShutdown": "os:operator",
  "/machine.MachineService/ApplyConfiguration": "os:admin",
  // Not GetConfiguration: every role reads the config, non-admins with its
  // secrets redacted (handlers/minos.ts), as the dashboard needs only a reader.
};

export function requiredRole(path: string): Role {
  return REQUIRED[path] ?? "os:reader";
}

export function allows(role: Role, need: Role): boolean {
  return RANK[role] >= RANK[need];
}

export function authorize(role: Role, path: string): void {
  const need = requiredRole(path);
  if (!allows(role, need)) throw new PermissionDeniedError(`${path.slice(path.lastIndexOf("/") + 1)}: role ${role} is not allowed (needs ${need})`);
}

/** The strongest known role among a certificate's Organization values; undefined when none is a role. */
export function roleFromOrganizations(orgs: string | string[] | undefined): Role | undefined {
  const list = orgs === undefined ? [] : Array.isArray(orgs) ? orgs : [orgs];
  const known = list.filter((o): o is Role => o in RANK);
  return known.sort((a, b) => RANK[b] - RANK[a])[0];
}

/** Secrets (the stored config with the CA key) live here: only admins may Read below it (others use GetConfiguration, redacted). */
export const STATE_DIR = "/system/state";

export function isProtectedPath(path: string): boolean {
  let p = resolve("/", path);
  try {
    p = realpathSync(p); // a symlink must not lead around the check
  } catch {
    // missing: the handler answers NOT_FOUND after the check
  }
  return p === STATE_DIR || p.startsWith(STATE_DIR + "/");
}

export function authorizeRead(role: Role, path: string): void {
  if (isProtectedPath(path) && !allows(role, "os:admin")) throw new PermissionDeniedError(`Read ${path}: role ${role} may not read ${STATE_DIR}`);
}
