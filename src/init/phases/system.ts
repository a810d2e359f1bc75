// Boot phase "system": what the machine config says about the node itself:
// hostname, loopback, rlimits, files.
import {
  closeSync,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  constants as fsConstants,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  type Stats,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { errText } from "../mechanisms/log.ts";
import { interfaceUp } from "../../sys/net.ts";
import { getrlimit, RLIMIT, setrlimit, sethostname } from "../../sys/process.ts";
import { machineFilePathProblem, type MachineFile } from "../config/machine.ts";
import type { NodeContext } from "../context.ts";
import { FALLBACK_HOSTNAME } from "../mechanisms/hostname.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** Talos raises init's open-file limit this far; services inherit it through wrapperd. */
export const NOFILE_LIMIT = 1048576n;

export function systemTasks(ctx: NodeContext): Task[] {
  return [
    {
      name: "hostname",
      run: () => {
        // The sandbox has its own UTS namespace: safe to set there too.
        // Without one in the config, DHCP's or the MAC-derived default replaces this in the network phase.
        const name = ctx.config.get().config.machine.network.hostname || FALLBACK_HOSTNAME;
        sethostname(name);
        ctx.log.info(`  hostname ${name}`);
      },
    },
    {
      name: "loopback up",
      run: () => {
        interfaceUp("lo");
      },
    },
    {
      name: "rlimits",
      run: () => {
        // Per process: in the sandbox this changes only init itself. The kernel caps it at fs.nr_open.
        const nrOpen = BigInt(readOr("/proc/sys/fs/nr_open")?.trim() || String(NOFILE_LIMIT));
        const limit = nrOpen < NOFILE_LIMIT ? nrOpen : NOFILE_LIMIT;
        try {
          setrlimit(RLIMIT.NOFILE, { soft: limit, hard: limit });
          ctx.log.info(`  RLIMIT_NOFILE ${limit}`);
        } catch {
          // Raising a hard limit needs CAP_SYS_RESOURCE, which a sandbox's host may withhold: take what the hard limit allows.
          const { hard } = getrlimit(RLIMIT.NOFILE);
          setrlimit(RLIMIT.NOFILE, { soft: hard, hard });
          ctx.log.info(`  RLIMIT_NOFILE ${hard} (the hard limit: raising it to ${limit} needs CAP_SYS_RESOURCE, which init lacks)`);
        }
      },
    },
    {
      name: "machine files",
      // A file that cannot be written fails this step (logged, an event), not the boot.
      nonFatal: true,
      run: () => {
        const files = ctx.config.get().config.machine.files;
        if (files.length === 0) return skipped("machine.files is empty");
        const done: string[] = [];
        const failed: string[] = [];
        files.forEach((f, i) => {
          const where = `machine.files[${i}] ${f.path}`;
          try {
            const outcome = writeMachineFile(f);
            if (outcome === "exists") {
              // Expected on every boot after the first when /var persists: not a failure.
              ctx.log.warn(`  ${where}: exists, left as it is (op: create)`);
              ctx.events.emit({ kind: "config", message: `${where}: exists, left as it is (op: create)` });
            } else done.push(`${f.path} (${f.op})`);
          } catch (e) {
            failed.push(`${where}: ${errText(e)}`);
            ctx.log.error(`  ${where}: not written: ${errText(e)}`);
          }
        });
        if (done.length) ctx.log.info(`  wrote ${done.join(", ")}`);
        if (failed.length) throw new Error(`${failed.length} of ${files.length} machine files not written: ${failed.join("; ")}`);
      },
    },
  ];
}

/** What writing one machine file did. */
export type MachineFileOutcome = "written" | "exists";

/**
 * Talos's ops: create (left alone when present), append, overwrite, only under
 * /var, never through a symlink: every directory on the way is lstat'ed (a
 * symlink is refused, a missing one created), the file itself is opened with
 * O_NOFOLLOW, and anything but a regular file with one link is refused before
 * a byte is written. `root` is where "/" is (tests); the boot uses "/". This
 * runs before any service, so nothing swaps a checked directory meanwhile.
 */
export function writeMachineFile(f: MachineFile, root = "/"): MachineFileOutcome {
  const problem = machineFilePathProblem(f.path);
  if (problem) throw new Error(problem);
  const parts = f.path.split("/").slice(1);
  let dir = root;
  for (let k = 0; k < parts.length - 1; k++) {
    dir = join(dir, parts[k]!);
    const shown = `/${parts.slice(0, k + 1).join("/")}`;
    let st: Stats | undefined;
    try {
      st = lstatSync(dir);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    if (!st) mkdirSync(dir, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new Error(`${shown} is a symlink: not followed`);
    else if (!st.isDirectory()) throw new Error(`${shown} is not a directory`);
  }
  const path = join(dir, parts[parts.length - 1]!);
  const { O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
  // O_NONBLOCK: a FIFO planted there fails with ENXIO instead of hanging PID 1; no O_TRUNC before the checks below.
  const flags = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CREAT | (f.op === "create" ? O_EXCL : 0) | (f.op === "append" ? O_APPEND : 0);
  let fd: number;
  try {
    fd = openSync(path, flags, f.permissions);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "EEXIST" && f.op === "create") return "exists";
    if (code === "ELOOP") throw new Error(`${f.path} is a symlink: not followed`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${f.path} is not a regular file`);
    // A second name for the same inode may be outside /var's tree of intent: writing would change both.
    if (st.nlink > 1) throw new Error(`${f.path} has ${st.nlink} hard links: not written`);
    if (f.op === "overwrite") ftruncateSync(fd, 0);
    fchmodSync(fd, f.permissions);
    const data = Buffer.from(f.content, "utf8");
    for (let off = 0; off < data.length; ) {
      const n = writeSync(fd, data, off, data.length - off);
      if (n <= 0) throw new Error(`${f.path}: short write at byte ${off} of ${data.length}`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return "written";
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
