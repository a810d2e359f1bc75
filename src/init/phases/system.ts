// Boot phase "system": what the machine config says about the node itself:
// hostname, loopback, rlimits, files.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { interfaceUp } from "../../sys/net.ts";
import { getrlimit, RLIMIT, setrlimit, sethostname } from "../../sys/process.ts";
import type { MachineFile } from "../config/machine.ts";
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
      run: () => {
        const files = ctx.config.get().config.machine.files;
        if (files.length === 0) return skipped("machine.files is empty");
        for (const f of files) writeMachineFile(f);
        ctx.log.info(`  wrote ${files.map((f) => `${f.path} (${f.op})`).join(", ")}`);
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

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
