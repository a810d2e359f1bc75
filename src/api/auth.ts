// Roles (Talos RBAC): a client certificate's Organization names the caller's
// role; the local socket is admin. Each method names the least role it needs.
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { PermissionDeniedError } from "../lib/errors.ts";

export type Role = "os:admin" | "os:operator" | "os:reader" | "os:etcd:backup";

export const ROLES: readonly Role[] = ["os:reader", "os:operator", "os:admin", "os:etcd:backup"];
/** os:etcd:backup ranks below every other role: it may call what ALSO_ALLOWED names for it, and nothing else. */
const RANK: Record<Role, number> = { "os:etcd:backup": -1, "os:reader": 0, "os:operator": 1, "os:admin": 2 };

/** Talos's os:etcd:backup: a role for backup jobs, allowed EtcdSnapshot alone (no other call, reading or writing). */
const ALSO_ALLOWED: Record<string, readonly Role[]> = {
  "/machine.MachineService/EtcdSnapshot": ["os:etcd:backup"],
};

/**
 * The least role each method needs. Every method the server serves is listed
 * (test/api.test.ts checks it); a path missing here needs os:admin, as in
 * Talos, so a method added to a .proto without a decision here is closed, not
 * open to readers.
 */
const REQUIRED: Record<string, Role> = {
  // Read-only: node state any role may see.
  "/machine.MachineService/Version": "os:reader",
  "/machine.MachineService/Hostname": "os:reader",
  "/machine.MachineService/ServiceList": "os:reader",
  "/machine.MachineService/Logs": "os:reader",
  "/machine.MachineService/Dmesg": "os:reader",
  "/machine.MachineService/Events": "os:reader",
  "/machine.MachineService/List": "os:reader",
  "/machine.MachineService/Mounts": "os:reader",
  "/machine.MachineService/Memory": "os:reader",
  "/machine.MachineService/LoadAvg": "os:reader",
  "/machine.MachineService/SystemStat": "os:reader",
  "/machine.MachineService/CPUInfo": "os:reader",
  "/machine.MachineService/Processes": "os:reader",
  "/machine.MachineService/NetworkDeviceStats": "os:reader",
  "/machine.MachineService/DiskStats": "os:reader",
  "/machine.MachineService/ImageList": "os:reader",
  "/machine.MachineService/Containers": "os:reader",
  "/machine.MachineService/Stats": "os:reader",
  "/minos.machine.MinosService/ScheduledShutdown": "os:reader",
  "/storage.StorageService/Disks": "os:reader",
  // Every role reads the config, non-admins with its secrets redacted
  // (handlers/minos.ts), as the dashboard needs only a reader.
  "/minos.machine.MinosService/GetConfiguration": "os:reader",
  // The network's state (handlers/network.ts).
  "/minos.machine.MinosService/Addresses": "os:reader",
  "/minos.machine.MinosService/Routes": "os:reader",
  "/minos.machine.MinosService/Resolvers": "os:reader",
  "/minos.machine.MinosService/DhcpLeases": "os:reader",
  // Health and reflection describe the API, not the node.
  "/grpc.health.v1.Health/Check": "os:reader",
  "/grpc.health.v1.Health/Watch": "os:reader",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "os:reader",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": "os:reader",
  // Time asks a server the node already uses; TimeCheck makes the node send to any host named: operators.
  "/time.TimeService/Time": "os:reader",
  "/time.TimeService/TimeCheck": "os:operator",

  // Power and services: operators.
  "/machine.MachineService/Shutdown": "os:operator",
  "/machine.MachineService/Reboot": "os:operator",
  "/machine.MachineService/ServiceStart": "os:operator",
  "/machine.MachineService/ServiceStop": "os:operator",
  "/machine.MachineService/ServiceRestart": "os:operator",
  // A container's restart (Talos: operator, like a service's).
  "/machine.MachineService/Restart": "os:operator",
  // A pull makes the node fetch from the registries its config names (Talos: operator).
  "/machine.MachineService/ImagePull": "os:operator",
  "/minos.machine.MinosService/ImageImport": "os:operator",
  "/minos.machine.MinosService/ScheduleShutdown": "os:operator",
  "/minos.machine.MinosService/CancelShutdown": "os:operator",

  // Changing the node: admins.
  "/machine.MachineService/ApplyConfiguration": "os:admin",
  // Reading file contents: admins, as in Talos (machined's rules give Read to
  // os:admin alone, List to every role). A path rule cannot keep secrets in:
  // a hard link to the stored config is the same inode under another name,
  // and /proc/<pid>/environ of a service holds machine.env's proxy passwords.
  // authorizeRead below stays as a second wall should this ever be widened.
  "/machine.MachineService/Read": "os:admin",
  "/machine.MachineService/Reset": "os:admin",

  // etcd (Talos's rules): reading its state is for readers; the snapshot holds
  // every Kubernetes secret, so operators (and os:etcd:backup) only; changing
  // the membership or the data is for admins.
  "/machine.MachineService/EtcdMemberList": "os:reader",
  "/machine.MachineService/EtcdStatus": "os:reader",
  "/machine.MachineService/EtcdAlarmList": "os:reader",
  "/machine.MachineService/EtcdSnapshot": "os:operator",
  "/machine.MachineService/EtcdForfeitLeadership": "os:operator",
  "/machine.MachineService/EtcdDefragment": "os:operator",
  "/machine.MachineService/EtcdAlarmDisarm": "os:operator",
  "/machine.MachineService/Bootstrap": "os:admin",
  "/machine.MachineService/EtcdRemoveMemberByID": "os:admin",
  "/machine.MachineService/EtcdLeaveCluster": "os:admin",
  "/machine.MachineService/EtcdRecover": "os:admin",
};

/** The role listed for a method path, undefined when it is not listed (tests check the list is complete). */
export function listedRole(path: string): Role | undefined {
  return Object.hasOwn(REQUIRED, path) ? REQUIRED[path] : undefined;
}

export function requiredRole(path: string): Role {
  return listedRole(path) ?? "os:admin";
}

export function allows(role: Role, need: Role): boolean {
  return RANK[role] >= RANK[need];
}

export function authorize(role: Role, path: string): void {
  const need = requiredRole(path);
  if (ALSO_ALLOWED[path]?.includes(role)) return;
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

/** What Read actually opened: the kernel's name for the open file and its fstat. */
export interface OpenedFile {
  /** realpath of /proc/self/fd/N: no symlink or ".." left, and it is the file read, not one looked up again. */
  realPath: string | undefined;
  stats: { isBlockDevice(): boolean; isCharacterDevice(): boolean; isFIFO(): boolean; isSocket(): boolean };
}

function under(dir: string, p: string): boolean {
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");
}

/**
 * Read's first check, on the requested path as written (".." resolved, links
 * not followed): a non-admin asking for a path below the state directory is
 * refused before anything is opened, so the answer does not tell which
 * secrets exist. Links are caught by authorizeRead on the opened file.
 */
export function authorizeReadPath(role: Role, requested: string, stateDir: string = STATE_DIR): void {
  if (allows(role, "os:admin")) return;
  if (under(stateDir, resolve("/", requested))) throw new PermissionDeniedError(`Read ${requested}: role ${role} may not read ${stateDir} (needs os:admin)`);
}

/**
 * Read's check, made on the file already opened so a symlink swapped in
 * between a check and the open cannot lead around it. Admins read anything.
 * Others may not read below the state directory (the secrets), nor device
 * nodes (a raw disk holds the state directory's bytes too; /dev/mem and the
 * like are worse) or FIFOs (reading one takes data from its real reader).
 * When the kernel cannot name the opened file (no /proc), a non-admin is
 * refused: fail closed.
 */
export function authorizeRead(role: Role, requested: string, opened: OpenedFile, stateDir: string = STATE_DIR): void {
  if (allows(role, "os:admin")) return;
  const deny = (why: string) => new PermissionDeniedError(`Read ${requested}: role ${role} may not read ${why} (needs os:admin)`);
  const st = opened.stats;
  if (st.isBlockDevice() || st.isCharacterDevice()) throw deny("device nodes");
  if (st.isFIFO() || st.isSocket()) throw deny("FIFOs or sockets");
  if (opened.realPath === undefined) throw deny("a file whose path cannot be verified");
  let dir = stateDir;
  try {
    dir = realpathSync(stateDir); // the state directory may itself sit behind a symlink
  } catch {
    // missing: nothing below it can have been opened
  }
  if (under(dir, opened.realPath) || under(stateDir, opened.realPath)) throw deny(stateDir);
}
