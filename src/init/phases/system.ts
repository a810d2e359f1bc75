// Boot phases "config" and "system": the machine config, then what it says
// about the node itself: hostname, loopback, rlimits, files.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { interfaceUp } from "../../sys/net.ts";
import { getrlimit, RLIMIT, setrlimit, sethostname } from "../../sys/process.ts";
import { loadConfig, writeAtomically, STORED_CONFIG } from "../config/store.ts";
import type { MachineFile } from "../config/machine.ts";
import type { Node } from "../context.ts";
import { skipped, type Task } from "../sequences/sequencer.ts";

/** Talos raises init's open-file limit this far; services inherit it through wrapperd. */
export const NOFILE_LIMIT = 1048576n;

export function configTasks(node: Node): Task[] {
  return [
    {
      // Only now: the kernel's /proc/cmdline exists once the mounts phase mounted /proc.
      name: "read kernel cmdline",
      run: () => {
        const c = node.loadCmdline();
        node.log.info(`  ${node.sandbox ? "MINOS_CMDLINE (the sandbox's stand-in)" : "/proc/cmdline"}: ${c.raw || "(empty)"}`);
      },
    },
    {
      name: "load machine config",
      run: () => {
        const path = node.cmdline.params.get("minos.config");
        const loaded = loadConfig(path);
        // One line per rejection, so the console and Dmesg show the reason beside the file.
        for (const r of loaded.rejected) node.log.warn(`  rejected ${r.replace(/\n\s*/g, " ")}`);
        node.config = loaded;
        node.log.info(`  using the ${loaded.source} config${loaded.source === "cmdline" ? ` (${path})` : ""}`);
        // A valid config from the cmdline becomes the stored one (never an invalid one: it was rejected above).
        if (loaded.source === "cmdline" && readOr(STORED_CONFIG) !== loaded.text) {
          writeAtomically(STORED_CONFIG, loaded.text);
          node.log.info(`  stored it as ${STORED_CONFIG}`);
        }
      },
    },
  ];
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function systemTasks(node: Node): Task[] {
  return [
    {
      name: "hostname",
      run: () => {
        // The sandbox has its own UTS namespace: safe to set there too.
        const name = node.config!.config.machine.network.hostname;
        sethostname(name);
        node.log.info(`  hostname ${name}`);
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
          node.log.info(`  RLIMIT_NOFILE ${limit}`);
        } catch {
          // Raising a hard limit needs CAP_SYS_RESOURCE, which a sandbox's host may withhold: take what the hard limit allows.
          const { hard } = getrlimit(RLIMIT.NOFILE);
          setrlimit(RLIMIT.NOFILE, { soft: hard, hard });
          node.log.info(`  RLIMIT_NOFILE ${hard} (the hard limit: raising it to ${limit} needs CAP_SYS_RESOURCE, which init lacks)`);
        }
      },
    },
    {
      name: "machine files",
      run: () => {
        const files = node.config!.config.machine.files;
        if (files.length === 0) return skipped("machine.files is empty");
        for (const f of files) writeMachineFile(f);
        node.log.info(`  wrote ${files.map((f) => `${f.path} (${f.op})`).join(", ")}`);
      },
    },
  ];
}

/** Talos's ops: create (fails if present), append, overwrite. */
export function writeMachineFile(f: MachineFile): void {
  mkdirSync(dirname(f.path), { recursive: true });
  if (f.op === "create" && existsSync(f.path)) throw new Error(`machine.files: ${f.path} exists (op create)`);
  if (f.op === "append") appendFileSync(f.path, f.content, { mode: f.permissions });
  else writeFileSync(f.path, f.content, { mode: f.permissions });
}
