// minosctl's node commands: each asks the machine API one thing and prints it,
// as a table by default or as -o json|yaml (the decoded reply message).
import { readFileSync } from "node:fs";
import { UsageError } from "../../lib/args.ts";
import { NotFoundError } from "../../lib/errors.ts";
import type { Io } from "../../lib/io.ts";
import type { MachineClient, machine } from "../../api/client.ts";
import { fromTimestamp } from "../../api/schema.ts";
import { humanBytes, modeString, structured, table, type OutputFormat } from "./format.ts";

/**
 * A reply's message and the node that sent it. Every reply names its node in
 * metadata (as Talos's do), so the NODE column needs no Hostname round trip.
 */
function fromNode<T extends { metadata: { hostname: string } | null }>(res: { messages: T[] }, what: string): { host: string; msg: T } {
  const msg = res.messages[0];
  if (!msg) throw new Error(`${what}: empty reply`);
  return { host: msg.metadata?.hostname ?? "", msg };
}

export interface CommandContext {
  io: Io;
  positional: string[];
  flags: Record<string, unknown>;
  output: OutputFormat;
  client(): MachineClient;
  /** The CLI's own version, for `version`'s Client section. */
  clientVersion: string;
}

export interface Command {
  usage: string;
  flags?: { boolean?: string[]; string?: string[]; alias?: Record<string, string[]> };
  run(ctx: CommandContext): Promise<number>;
}

/** Prints structured output when asked for it; otherwise calls human(). */
function emit(ctx: CommandContext, value: unknown, human: () => string): void {
  ctx.io.stdout(ctx.output === "table" ? human() : structured(value, ctx.output));
}

function need(ctx: CommandContext, n: number, what: string): string {
  const v = ctx.positional[n];
  if (v === undefined) throw new UsageError(`missing ${what}`);
  return v;
}

function intFlag(ctx: CommandContext, name: string, dflt: number): number {
  const v = ctx.flags[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} wants an integer, got "${String(v)}"`);
  return n;
}

const ts = (t: machine.ServiceEvent["ts"]) => fromTimestamp(t)?.toISOString() ?? "";

/** Go-ish durations: 90s, 5m, 1h30m, or plain milliseconds. */
export function parseDuration(s: string): number {
  if (/^\d+$/.test(s)) return Number(s);
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let consumed = "";
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
    consumed += m[0];
  }
  if (consumed !== s) throw new UsageError(`bad duration "${s}" (e.g. 90s, 5m, 1h)`);
  return ms;
}

function healthText(h: machine.ServiceHealth | null): string {
  if (!h || h.unknown) return "?";
  return h.healthy ? "OK" : "Fail";
}

async function lines(ctx: CommandContext, stream: AsyncIterable<string>): Promise<number> {
  for await (const line of stream) ctx.io.stdout(line + "\n");
  return 0;
}

export const COMMANDS: Record<string, Command> = {
  version: {
    usage: "version                       client and node versions",
    async run(ctx) {
      const v = await ctx.client().version();
      emit(ctx, v, () =>
        [
          "Client:",
          `\tTag:         ${ctx.clientVersion}`,
          `\tRuntime:     bun ${Bun.version}`,
          "Server:",
          `\tNODE:        ${v.metadata?.hostname ?? ""}`,
          `\tTag:         ${v.version?.tag ?? ""}`,
          `\tSHA:         ${v.version?.sha ?? ""}`,
          `\tBuilt:       ${v.version?.built ?? ""}`,
          `\tRuntime:     ${v.version?.go_version ?? ""}`,
          `\tOS/Arch:     ${v.version?.os ?? ""}/${v.version?.arch ?? ""}`,
          `\tKernel:      ${v.version?.kernel ?? ""}`,
          "",
        ].join("\n"),
      );
      return 0;
    },
  },

  hostname: {
    usage: "hostname                      the node's hostname",
    async run(ctx) {
      const h = await ctx.client().hostname();
      emit(ctx, { hostname: h }, () => h + "\n");
      return 0;
    },
  },

  services: {
    usage: "services [ID]                 service states (one service in detail with ID)",
    async run(ctx) {
      const { host, msg } = fromNode(await ctx.client().call("machine.MachineService", "ServiceList", {}), "ServiceList");
      const all = msg.services;
      const id = ctx.positional[0];
      if (id === undefined) {
        emit(ctx, all, () =>
          table(
            ["NODE", "SERVICE", "STATE", "HEALTH", "LAST CHANGE", "LAST EVENT"],
            all.map((s) => {
              const last = s.events?.events.at(-1);
              return [host, s.id, s.state, healthText(s.health), ts(s.health?.last_change ?? null), last?.msg ?? ""];
            }),
          ),
        );
        return 0;
      }
      const s = all.find((x) => x.id === id);
      if (!s) throw new NotFoundError(`service "${id}" not found`);
      emit(ctx, s, () =>
        [
          `NODE     ${host}`,
          `ID       ${s.id}`,
          `STATE    ${s.state}`,
          `HEALTH   ${healthText(s.health)}${s.health?.last_message ? ` (${s.health.last_message})` : ""}`,
          "EVENTS",
          ...(s.events?.events ?? []).map((e) => `         [${ts(e.ts)}] ${e.state}: ${e.msg}`),
          "",
        ].join("\n"),
      );
      return 0;
    },
  },

  service: {
    usage: "service ID [status|start|stop|restart]",
    async run(ctx) {
      const id = need(ctx, 0, "service id");
      const action = ctx.positional[1] ?? "status";
      const c = ctx.client();
      if (action === "status") return COMMANDS.services!.run({ ...ctx, positional: [id] });
      const resp =
        action === "start"
          ? await c.serviceStart(id)
          : action === "stop"
            ? await c.serviceStop(id)
            : action === "restart"
              ? await c.serviceRestart(id)
              : undefined;
      if (resp === undefined) throw new UsageError(`service action "${action}": want status, start, stop or restart`);
      emit(ctx, { id, action, resp }, () => resp + "\n");
      return 0;
    },
  },

  logs: {
    usage: "logs ID [-f] [--tail N]      a service's log (N newest lines; -1 all)",
    flags: { boolean: ["follow"], string: ["tail"], alias: { follow: ["f"] } },
    async run(ctx) {
      const id = need(ctx, 0, "service id");
      return lines(ctx, ctx.client().logs(id, { follow: Boolean(ctx.flags.follow), tail: intFlag(ctx, "tail", -1) }));
    },
  },

  dmesg: {
    usage: "dmesg [-f] [--tail]          kernel messages (--tail: only new ones)",
    flags: { boolean: ["follow", "tail"], alias: { follow: ["f"] } },
    async run(ctx) {
      return lines(ctx, ctx.client().dmesg({ follow: Boolean(ctx.flags.follow), tail: Boolean(ctx.flags.tail) }));
    },
  },

  events: {
    usage: "events [--tail N] [--count N]  node events, live (--tail: replay N past, -1 all)",
    flags: { string: ["tail", "count"] },
    async run(ctx) {
      const count = intFlag(ctx, "count", 0);
      const stream = ctx.client().events({ tail: intFlag(ctx, "tail", 0) });
      let n = 0;
      if (ctx.output === "table") ctx.io.stdout(table(["NODE", "ID", "EVENT", "DETAILS"], []));
      for await (const e of stream) {
        if (ctx.output === "table") {
          const p = e.payload;
          const details = Object.entries(p)
            .filter(([k, v]) => k !== "health" && v !== null && v !== "")
            .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
            .join(", ");
          ctx.io.stdout(`${e.hostname}  ${e.id}  ${e.type.replace(/^.*\./, "")}  ${details}\n`);
        } else ctx.io.stdout(ctx.output === "json" ? JSON.stringify(e) + "\n" : structured([e], "yaml"));
        if (count > 0 && ++n >= count) {
          stream.cancel();
          break;
        }
      }
      return 0;
    },
  },

  list: {
    usage: "list PATH [-l] [-r] [-d N] [-t TYPE]  directory listing (ls)",
    flags: { boolean: ["long", "recurse"], string: ["depth", "type"], alias: { long: ["l"], recurse: ["r"], depth: ["d"], type: ["t"] } },
    async run(ctx) {
      const root = ctx.positional[0] ?? "/";
      const depth = intFlag(ctx, "depth", 0);
      const types = ctx.flags.type === undefined ? [] : [String(ctx.flags.type).toUpperCase() as machine.ListRequest_Type];
      if (types.some((t) => !["REGULAR", "DIRECTORY", "SYMLINK"].includes(t))) throw new UsageError("--type: want regular, directory or symlink");
      const entries: machine.FileInfo[] = [];
      for await (const f of ctx.client().list(root, { recurse: Boolean(ctx.flags.recurse) || depth > 0, depth, types })) entries.push(f);
      emit(ctx, entries, () => {
        const shown = entries.filter((f) => f.relative_name !== ".");
        if (!ctx.flags.long)
          return table(
            ["NODE", "NAME"],
            shown.map((f) => [f.metadata?.hostname ?? "", f.relative_name + (f.link ? ` -> ${f.link}` : "")]),
          );
        return table(
          ["NODE", "MODE", "UID", "GID", "SIZE(B)", "LASTMOD", "INODE", "LINKS", "NAME"],
          shown.map((f) => [
            f.metadata?.hostname ?? "",
            modeString(f.mode),
            f.uid,
            f.gid,
            f.size,
            new Date(f.modified * 1000).toISOString().replace("T", " ").slice(0, 19),
            f.inode,
            f.nlink,
            f.relative_name + (f.link ? ` -> ${f.link}` : "") + (f.error ? ` (error: ${f.error})` : ""),
          ]),
        );
      });
      return 0;
    },
  },

  read: {
    usage: "read PATH                     a file's contents",
    async run(ctx) {
      const path = need(ctx, 0, "path");
      for await (const chunk of ctx.client().read(path)) ctx.io.stdout(Buffer.from(chunk).toString("utf8"));
      return 0;
    },
  },

  mounts: {
    usage: "mounts                        mounted filesystems and their usage",
    async run(ctx) {
      const { host, msg } = fromNode(await ctx.client().call("machine.MachineService", "Mounts", {}), "Mounts");
      const stats = msg.stats;
      emit(ctx, stats, () =>
        table(
          ["NODE", "FILESYSTEM", "SIZE", "USED", "AVAILABLE", "USE%", "MOUNTED ON"],
          stats.map((m) => [
            host,
            m.filesystem,
            humanBytes(m.size),
            humanBytes(m.size - m.available),
            humanBytes(m.available),
            m.size ? `${(((m.size - m.available) / m.size) * 100).toFixed(1)}%` : "-",
            m.mounted_on,
          ]),
        ),
      );
      return 0;
    },
  },

  memory: {
    usage: "memory                        memory usage (MiB)",
    async run(ctx) {
      const { host, msg } = fromNode(await ctx.client().call("machine.MachineService", "Memory", {}), "Memory");
      const m = msg.meminfo!;
      const mib = (kib: number) => Math.round(kib / 1024);
      emit(ctx, m, () =>
        table(
          ["NODE", "TOTAL", "USED", "FREE", "SHARED", "BUFFERS", "CACHE", "AVAILABLE"],
          [
            [
              host,
              mib(m.memtotal),
              mib(m.memtotal - m.memfree - m.buffers - m.cached - m.sreclaimable),
              mib(m.memfree),
              mib(m.shmem),
              mib(m.buffers),
              mib(m.cached + m.sreclaimable),
              mib(m.memavailable),
            ],
          ],
        ),
      );
      return 0;
    },
  },

  processes: {
    usage: "processes                     the process table",
    async run(ctx) {
      const { host, msg } = fromNode(await ctx.client().call("machine.MachineService", "Processes", {}), "Processes");
      const ps = msg.processes;
      emit(ctx, ps, () =>
        table(
          ["NODE", "PID", "PPID", "STATE", "THREADS", "CPU-TIME", "VIRTMEM", "RESMEM", "COMMAND"],
          ps.map((p) => [
            host,
            p.pid,
            p.ppid,
            p.state,
            p.threads,
            p.cpu_time.toFixed(2),
            humanBytes(p.virtual_memory),
            humanBytes(p.resident_memory),
            p.args || p.command,
          ]),
        ),
      );
      return 0;
    },
  },

  loadavg: {
    usage: "loadavg                       load averages",
    async run(ctx) {
      const l = await ctx.client().loadAvg();
      emit(ctx, l, () => table(["NODE", "LOAD1", "LOAD5", "LOAD15"], [[l.metadata?.hostname ?? "", l.load1, l.load5, l.load15]]));
      return 0;
    },
  },

  stats: {
    usage: "stats                         CPU and kernel counters (/proc/stat)",
    async run(ctx) {
      const s = await ctx.client().systemStat();
      const t = s.cpu_total;
      emit(ctx, s, () =>
        table(
          ["NODE", "BOOT TIME", "CPUS", "USER(s)", "SYSTEM(s)", "IDLE(s)", "CTXT", "PROCS"],
          [
            [
              s.metadata?.hostname ?? "",
              new Date(s.boot_time * 1000).toISOString(),
              s.cpu.length,
              t?.user ?? 0,
              t?.system ?? 0,
              t?.idle ?? 0,
              s.context_switches,
              s.process_created,
            ],
          ],
        ),
      );
      return 0;
    },
  },

  cpuinfo: {
    usage: "cpuinfo                       processors",
    async run(ctx) {
      const cpus = await ctx.client().cpuInfo();
      emit(ctx, cpus, () =>
        table(
          ["PROCESSOR", "VENDOR", "MODEL", "MHZ", "CORES"],
          cpus.map((c) => [c.processor, c.vendor_id, c.model_name, c.cpu_mhz.toFixed(0), c.cpu_cores]),
        ),
      );
      return 0;
    },
  },

  netdev: {
    usage: "netdev                        network interface counters",
    async run(ctx) {
      const n = await ctx.client().networkDeviceStats();
      emit(ctx, n, () =>
        table(
          ["NODE", "DEVICE", "RX BYTES", "RX PACKETS", "TX BYTES", "TX PACKETS"],
          n.devices.map((d) => [n.metadata?.hostname ?? "", d.name, d.rx_bytes, d.rx_packets, d.tx_bytes, d.tx_packets]),
        ),
      );
      return 0;
    },
  },

  disks: {
    usage: "disks                         the node's disks (as talosctl disks; works in maintenance mode)",
    async run(ctx) {
      const r = await ctx.client().disks();
      emit(ctx, r, () =>
        table(
          ["NODE", "DEV", "MODEL", "SERIAL", "TYPE", "UUID", "WWID", "MODALIAS", "NAME", "SIZE", "BUS_PATH", "SYSTEM_DISK"],
          r.disks.map((d) => [
            r.metadata?.hostname ?? "",
            `/dev/${d.device_name}`,
            d.model || "-",
            d.serial || "-",
            d.type,
            d.uuid || "-",
            d.wwid || "-",
            d.modalias || "-",
            d.name || "-",
            humanBytes(d.size),
            d.bus_path || "-",
            d.system_disk ? "*" : "",
          ]),
        ),
      );
      return 0;
    },
  },

  reset: {
    usage: "reset [--graceful=false] [--reboot] [--system-labels-to-wipe STATE,EPHEMERAL]  wipe the node's state, then power off (or reboot)",
    flags: { string: ["system-labels-to-wipe"], boolean: ["graceful", "reboot"] },
    async run(ctx) {
      const raw = ctx.flags["system-labels-to-wipe"];
      const labels = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
        .flatMap((v) => String(v).split(","))
        .map((v) => v.trim())
        .filter(Boolean);
      const r = await ctx.client().reset({ graceful: ctx.flags.graceful !== false, reboot: ctx.flags.reboot === true, labels });
      emit(
        ctx,
        r,
        () =>
          `${r.metadata?.hostname ?? "node"}: reset started (wipe ${labels.join(", ") || "STATE, EPHEMERAL"}, then ${ctx.flags.reboot === true ? "reboot" : "power off"})\n`,
      );
      return 0;
    },
  },

  diskstats: {
    usage: "diskstats                     block device I/O counters",
    async run(ctx) {
      const d = await ctx.client().diskStats();
      emit(ctx, d, () =>
        table(
          ["NODE", "DEVICE", "READS", "READ SECTORS", "WRITES", "WRITE SECTORS"],
          d.devices.map((x) => [d.metadata?.hostname ?? "", x.name, x.read_completed, x.read_sectors, x.write_completed, x.write_sectors]),
        ),
      );
      return 0;
    },
  },

  "get-config": {
    usage: "get-config                    the node's machine config (secrets redacted below admin)",
    async run(ctx) {
      const yaml = await ctx.client().getConfiguration();
      emit(ctx, { config: yaml }, () => yaml);
      return 0;
    },
  },

  "apply-config": {
    usage: "apply-config -f FILE [--mode auto|no-reboot|reboot|try] [--timeout 1m]",
    flags: { string: ["file", "mode", "timeout"], alias: { file: ["f"], mode: ["m"] } },
    async run(ctx) {
      if (ctx.flags.file === undefined) throw new UsageError("apply-config needs -f FILE");
      const mode = String(ctx.flags.mode ?? "auto").replace(/-/g, "_");
      if (!["auto", "no_reboot", "reboot", "try"].includes(mode)) throw new UsageError(`--mode ${String(ctx.flags.mode)}: want auto, no-reboot, reboot or try`);
      const data = readFileSync(String(ctx.flags.file));
      const tryTimeoutMs = ctx.flags.timeout === undefined ? undefined : parseDuration(String(ctx.flags.timeout));
      const r = await ctx.client().applyConfiguration({ data, mode: mode as "auto", tryTimeoutMs });
      emit(ctx, r, () =>
        [
          `Applied configuration (mode ${r.mode.toLowerCase().replace(/_/g, "-")}): ${r.mode_details}`,
          ...r.warnings.map((w) => `warning: ${w}`),
          ...(r.needs_reboot.length ? [`needs a reboot: ${r.needs_reboot.join(", ")}`] : []),
          "",
        ].join("\n"),
      );
      return 0;
    },
  },

  shutdown: {
    usage: "shutdown [--force]            power the node off (orderly)",
    flags: { boolean: ["force"] },
    async run(ctx) {
      const r = await ctx.client().shutdown({ force: Boolean(ctx.flags.force) });
      emit(ctx, r, () => `${r.metadata?.hostname ?? "node"}: shutdown started\n`);
      return 0;
    },
  },

  reboot: {
    usage: "reboot [--mode default|powercycle]  reboot the node (orderly)",
    flags: { string: ["mode"], alias: { mode: ["m"] } },
    async run(ctx) {
      const mode = String(ctx.flags.mode ?? "default").toUpperCase();
      if (mode !== "DEFAULT" && mode !== "POWERCYCLE") throw new UsageError("--mode: want default or powercycle");
      const r = await ctx.client().reboot({ mode: mode as machine.RebootRequest_Mode });
      emit(ctx, r, () => `${r.metadata?.hostname ?? "node"}: reboot started\n`);
      return 0;
    },
  },
};
