// minosctl's node commands: each asks the machine API one thing and prints it,
// as a table by default or as -o json|yaml (the decoded reply message). With
// several nodes (-n a,b) the endpoint forwards the call and the reply holds
// one message per node, each naming it in metadata.hostname: tables get a row
// per node, and a node that failed is reported on stderr (exit 1) while the
// others are still printed.
import { createReadStream, readFileSync } from "node:fs";
import { UsageError } from "../../lib/args.ts";
import { NotFoundError } from "../../lib/errors.ts";
import type { common, machine } from "../../api/client.ts";
import { fromTimestamp } from "../../api/schema.ts";
import type { Command, CommandContext } from "./cli.ts";
import { humanBytes, modeString, structured, table } from "./format.ts";
import { NETWORK_COMMANDS } from "./network-commands.ts";

type Tagged = { metadata: common.Metadata | null };

/**
 * The messages of a reply that carry an answer, each with the node it is
 * from. A message whose metadata has an error is that node's failure (as
 * Talos's apid reports it): reported, not returned.
 */
export function replies<T extends Tagged>(ctx: CommandContext, res: { messages: T[] }, what: string): Array<{ host: string; msg: T }> {
  if (res.messages.length === 0) throw new Error(`${what}: empty reply`);
  const out: Array<{ host: string; msg: T }> = [];
  for (const msg of res.messages) {
    const host = msg.metadata?.hostname ?? "";
    if (msg.metadata?.error) ctx.failed(host, msg.metadata.error);
    else out.push({ host, msg });
  }
  return out;
}

/** One message as itself (the shape a single node always had), several as a list. */
export function single<T>(all: T[]): T | T[] {
  return all.length === 1 ? all[0]! : all;
}

/** Prints structured output when asked for it; otherwise calls human(). */
export function emit(ctx: CommandContext, value: unknown, human: () => string): void {
  ctx.io.stdout(ctx.output === "table" ? human() : structured(value, ctx.output));
}

export function need(ctx: CommandContext, n: number, what: string): string {
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

/** A stream of Data chunks as lines; with several nodes each line starts with its node. */
async function dataLines(ctx: CommandContext, stream: AsyncIterable<common.Data>): Promise<number> {
  const prefix = ctx.nodes.length > 1;
  for await (const d of stream) {
    if (d.metadata?.error) {
      ctx.failed(d.metadata.hostname, d.metadata.error);
      continue;
    }
    const text = Buffer.from(d.bytes).toString("utf8").replace(/\n$/, "");
    ctx.io.stdout(`${prefix ? `${d.metadata?.hostname ?? ""}: ` : ""}${text}\n`);
  }
  return 0;
}

const clientFlag = { name: "client", help: "only the client's version; no node is asked" };

function clientVersionLines(ctx: CommandContext): string[] {
  return ["Client:", `\tTag:         ${ctx.clientVersion}`, `\tRuntime:     bun ${Bun.version}`];
}

export const NODE_COMMANDS: Command[] = [
  ...NETWORK_COMMANDS,
  {
    name: "version",
    summary: "client and node versions",
    flags: [clientFlag],
    async run(ctx) {
      if (ctx.flags.client) {
        emit(ctx, { client: { tag: ctx.clientVersion, runtime: `bun ${Bun.version}` } }, () => clientVersionLines(ctx).join("\n") + "\n");
        return 0;
      }
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Version", {}), "Version");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        [
          ...clientVersionLines(ctx),
          ...all.flatMap(({ host, msg: v }) => [
            "Server:",
            `\tNODE:        ${host}`,
            `\tTag:         ${v.version?.tag ?? ""}`,
            `\tSHA:         ${v.version?.sha ?? ""}`,
            `\tBuilt:       ${v.version?.built ?? ""}`,
            `\tRuntime:     ${v.version?.go_version ?? ""}`,
            `\tOS/Arch:     ${v.version?.os ?? ""}/${v.version?.arch ?? ""}`,
            `\tKernel:      ${v.version?.kernel ?? ""}`,
          ]),
          "",
        ].join("\n"),
      );
      return 0;
    },
  },

  {
    name: "hostname",
    summary: "the node's hostname",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Hostname", {}), "Hostname");
      emit(ctx, single(all.map((r) => ({ hostname: r.msg.hostname }))), () =>
        ctx.nodes.length > 1
          ? table(
              ["NODE", "HOSTNAME"],
              all.map((r) => [r.host, r.msg.hostname]),
            )
          : all.map((r) => r.msg.hostname + "\n").join(""),
      );
      return 0;
    },
  },

  {
    name: "services",
    args: "[ID]",
    summary: "service states (one service in detail with ID)",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "ServiceList", {}), "ServiceList");
      const id = ctx.positional[0];
      if (id === undefined) {
        emit(ctx, single(all.map((r) => r.msg.services)), () =>
          table(
            ["NODE", "SERVICE", "STATE", "HEALTH", "LAST CHANGE", "LAST EVENT"],
            all.flatMap(({ host, msg }) =>
              msg.services.map((s) => {
                const last = s.events?.events.at(-1);
                return [host, s.id, s.state, healthText(s.health), ts(s.health?.last_change ?? null), last?.msg ?? ""];
              }),
            ),
          ),
        );
        return 0;
      }
      const found = all.flatMap(({ host, msg }) => msg.services.filter((x) => x.id === id).map((s) => ({ host, s })));
      if (found.length === 0) throw new NotFoundError(`service "${id}" not found`);
      emit(ctx, single(found.map((x) => x.s)), () =>
        found
          .map(({ host, s }) =>
            [
              `NODE     ${host}`,
              `ID       ${s.id}`,
              `STATE    ${s.state}`,
              `HEALTH   ${healthText(s.health)}${s.health?.last_message ? ` (${s.health.last_message})` : ""}`,
              "EVENTS",
              ...(s.events?.events ?? []).map((e) => `         [${ts(e.ts)}] ${e.state}: ${e.msg}`),
              "",
            ].join("\n"),
          )
          .join(""),
      );
      return 0;
    },
  },

  {
    name: "service",
    args: "ID [status|start|stop|restart]",
    summary: "one service's state, or start/stop/restart it",
    async run(ctx) {
      const id = need(ctx, 0, "service id");
      const action = ctx.positional[1] ?? "status";
      if (action === "status") return byName("services").run({ ...ctx, positional: [id] });
      const method = ({ start: "ServiceStart", stop: "ServiceStop", restart: "ServiceRestart" } as const)[action as "start"];
      if (method === undefined) throw new UsageError(`service action "${action}": want status, start, stop or restart`);
      const all = replies(ctx, await ctx.client().call("machine.MachineService", method, { id }), method);
      emit(ctx, single(all.map((r) => ({ id, action, resp: r.msg.resp }))), () =>
        all.map((r) => (ctx.nodes.length > 1 ? `${r.host}: ` : "") + r.msg.resp + "\n").join(""),
      );
      return 0;
    },
  },

  {
    name: "image",
    args: "list | pull REF | import FILE.tar",
    summary: "images in the node's containerd (talosctl image list / pull; import of an OCI archive: minos)",
    flags: [
      { name: "namespace", value: "NS", help: "cri (Kubernetes' k8s.io, the default) or system (minos's own containers)" },
      { name: "name", value: "REF", help: "import: the name for images the archive does not name" },
    ],
    async run(ctx) {
      const nsFlag = typeof ctx.flags.namespace === "string" ? ctx.flags.namespace : "cri";
      const namespace = ({ cri: "NS_CRI", system: "NS_SYSTEM" } as const)[nsFlag as "cri"];
      if (namespace === undefined) throw new UsageError(`--namespace "${nsFlag}": want cri or system`);
      const action = ctx.positional[0] ?? "list";
      if (action === "pull") {
        const reference = need(ctx, 1, "image reference");
        const all = replies(ctx, await ctx.client().call("machine.MachineService", "ImagePull", { namespace, reference }), "ImagePull");
        emit(ctx, single(all.map((r) => ({ node: r.host, reference }))), () =>
          all.map((r) => `${ctx.nodes.length > 1 ? `${r.host}: ` : ""}pulled ${reference}\n`).join(""),
        );
        return 0;
      }
      if (action === "import") {
        const file = need(ctx, 1, "archive file");
        const name = typeof ctx.flags.name === "string" ? ctx.flags.name : "";
        // 256 KiB messages, read as the upload drains: the archive is never in memory.
        async function* requests() {
          let first = true;
          for await (const chunk of createReadStream(file, { highWaterMark: 256 << 10 })) {
            yield { namespace, name: first ? name : "", chunk: new Uint8Array(chunk as Buffer) };
            first = false;
          }
          if (first) yield { namespace, name, chunk: new Uint8Array(0) };
        }
        const replies = await ctx.client().upload("minos.machine.MinosService", "ImageImport", requests());
        const all = replies.flatMap((r) => r.images.map((image) => ({ node: r.metadata?.hostname ?? "", image })));
        emit(ctx, all, () => all.map((r) => `${ctx.nodes.length > 1 ? `${r.node}: ` : ""}imported ${r.image}\n`).join(""));
        return 0;
      }
      if (action !== "list") throw new UsageError(`image action "${action}": want list, pull or import`);
      const rows: machine.ImageListResponse[] = [];
      for await (const m of ctx.client().stream("machine.MachineService", "ImageList", { namespace })) {
        if (m.metadata?.error) ctx.failed(m.metadata.hostname, m.metadata.error);
        else rows.push(m);
      }
      emit(
        ctx,
        rows.map((r) => ({
          node: r.metadata?.hostname ?? "",
          name: r.name,
          digest: r.digest,
          size: r.size,
          created: fromTimestamp(r.created_at)?.toISOString() ?? "",
        })),
        () =>
          table(
            ["NODE", "IMAGE", "DIGEST", "SIZE", "CREATED"],
            rows.map((r) => [r.metadata?.hostname ?? "", r.name, r.digest, humanBytes(r.size), fromTimestamp(r.created_at)?.toISOString() ?? ""]),
          ),
      );
      return 0;
    },
  },

  {
    name: "time",
    summary: "the node's clock next to its time server's (talosctl time)",
    flags: [{ name: "check", short: "c", value: "SERVER", help: "ask this NTP server instead of the one the node uses (needs os:operator)" }],
    async run(ctx) {
      const server = typeof ctx.flags.check === "string" ? ctx.flags.check : "";
      const res = server ? await ctx.client().call("time.TimeService", "TimeCheck", { server }) : await ctx.client().call("time.TimeService", "Time", {});
      const all = replies(ctx, res, server ? "TimeCheck" : "Time");
      const secs = (t: { seconds: number; nanos: number } | null) => (t ? t.seconds + t.nanos / 1e9 : Number.NaN);
      const iso = (t: { seconds: number; nanos: number } | null) => (t ? new Date(secs(t) * 1000).toISOString() : "");
      emit(ctx, single(all.map((r) => ({ node: r.host, server: r.msg.server, localtime: iso(r.msg.localtime), remotetime: iso(r.msg.remotetime) }))), () =>
        table(
          ["NODE", "NTP-SERVER", "NODE-TIME", "NTP-SERVER-TIME", "OFFSET"],
          all.map((r) => [
            r.host,
            r.msg.server,
            iso(r.msg.localtime),
            iso(r.msg.remotetime),
            `${((secs(r.msg.remotetime) - secs(r.msg.localtime)) * 1000).toFixed(1)} ms`,
          ]),
        ),
      );
      return 0;
    },
  },

  {
    name: "logs",
    args: "ID",
    summary: "a service's log (a container service's: its container's output); -k: a Kubernetes container's",
    flags: [
      { name: "follow", short: "f", help: "keep streaming new lines" },
      { name: "tail", value: "N", help: "only the N newest lines (-1: all, the default)" },
      { name: "kubernetes", short: "k", help: "a container of the k8s.io containerd namespace (its CRI log file; ID as minosctl containers -k shows it)" },
    ],
    async run(ctx) {
      const id = need(ctx, 0, "service id");
      // As talosctl: the system namespace (services) through containerd, or k8s.io through the CRI.
      const where = ctx.flags.kubernetes ? ({ namespace: "k8s.io", driver: "CRI" } as const) : ({ namespace: "system", driver: "CONTAINERD" } as const);
      return dataLines(
        ctx,
        ctx.client().stream("machine.MachineService", "Logs", { id, ...where, tail_lines: intFlag(ctx, "tail", -1), follow: Boolean(ctx.flags.follow) }),
      );
    },
  },

  {
    name: "dmesg",
    summary: "kernel messages",
    flags: [
      { name: "follow", short: "f", help: "keep streaming new messages" },
      { name: "tail", help: "only messages that arrive from now on" },
    ],
    async run(ctx) {
      return dataLines(ctx, ctx.client().stream("machine.MachineService", "Dmesg", { follow: Boolean(ctx.flags.follow), tail: Boolean(ctx.flags.tail) }));
    },
  },

  {
    name: "events",
    summary: "node events, live",
    flags: [
      { name: "tail", value: "N", help: "replay the N newest past events first (-1: all)" },
      { name: "count", value: "N", help: "stop after N events" },
    ],
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

  {
    name: "list",
    args: "[PATH]",
    summary: "directory listing (ls); PATH defaults to /",
    flags: [
      { name: "long", short: "l", help: "mode, owner, size, time, inode and links of each entry" },
      { name: "recurse", short: "r", help: "descend into directories" },
      { name: "depth", short: "d", value: "N", help: "descend at most N levels (implies -r)" },
      { name: "type", short: "t", value: "TYPE", help: "only entries of this type: regular, directory or symlink" },
    ],
    async run(ctx) {
      const root = ctx.positional[0] ?? "/";
      const depth = intFlag(ctx, "depth", 0);
      const types = ctx.flags.type === undefined ? [] : [String(ctx.flags.type).toUpperCase() as machine.ListRequest_Type];
      if (types.some((t) => !["REGULAR", "DIRECTORY", "SYMLINK"].includes(t))) throw new UsageError("--type: want regular, directory or symlink");
      const entries: machine.FileInfo[] = [];
      for await (const f of ctx.client().list(root, { recurse: Boolean(ctx.flags.recurse) || depth > 0, depth, types })) {
        if (f.metadata?.error) ctx.failed(f.metadata.hostname, f.metadata.error);
        else entries.push(f);
      }
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

  {
    name: "read",
    args: "PATH",
    summary: "a file's contents",
    async run(ctx) {
      const path = need(ctx, 0, "path");
      for await (const d of ctx.client().stream("machine.MachineService", "Read", { path })) {
        if (d.metadata?.error) ctx.failed(d.metadata.hostname, d.metadata.error);
        else ctx.io.stdout(Buffer.from(d.bytes).toString("utf8"));
      }
      return 0;
    },
  },

  {
    name: "mounts",
    summary: "mounted filesystems and their usage",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Mounts", {}), "Mounts");
      emit(ctx, single(all.map((r) => r.msg.stats)), () =>
        table(
          ["NODE", "FILESYSTEM", "SIZE", "USED", "AVAILABLE", "USE%", "MOUNTED ON"],
          all.flatMap(({ host, msg }) =>
            msg.stats.map((m) => [
              host,
              m.filesystem,
              humanBytes(m.size),
              humanBytes(m.size - m.available),
              humanBytes(m.available),
              m.size ? `${(((m.size - m.available) / m.size) * 100).toFixed(1)}%` : "-",
              m.mounted_on,
            ]),
          ),
        ),
      );
      return 0;
    },
  },

  {
    name: "memory",
    summary: "memory usage (MiB)",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Memory", {}), "Memory");
      const mib = (kib: number) => Math.round(kib / 1024);
      emit(ctx, single(all.map((r) => r.msg.meminfo)), () =>
        table(
          ["NODE", "TOTAL", "USED", "FREE", "SHARED", "BUFFERS", "CACHE", "AVAILABLE"],
          all.map(({ host, msg }) => {
            const m = msg.meminfo!;
            return [
              host,
              mib(m.memtotal),
              mib(m.memtotal - m.memfree - m.buffers - m.cached - m.sreclaimable),
              mib(m.memfree),
              mib(m.shmem),
              mib(m.buffers),
              mib(m.cached + m.sreclaimable),
              mib(m.memavailable),
            ];
          }),
        ),
      );
      return 0;
    },
  },

  {
    name: "processes",
    summary: "the process table",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Processes", {}), "Processes");
      emit(ctx, single(all.map((r) => r.msg.processes)), () =>
        table(
          ["NODE", "PID", "PPID", "STATE", "THREADS", "CPU-TIME", "VIRTMEM", "RESMEM", "COMMAND"],
          all.flatMap(({ host, msg }) =>
            msg.processes.map((p) => [
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
        ),
      );
      return 0;
    },
  },

  {
    name: "loadavg",
    summary: "load averages",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "LoadAvg", {}), "LoadAvg");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          ["NODE", "LOAD1", "LOAD5", "LOAD15"],
          all.map(({ host, msg: l }) => [host, l.load1, l.load5, l.load15]),
        ),
      );
      return 0;
    },
  },

  {
    name: "systemstat",
    summary: "CPU and kernel counters (/proc/stat)",
    description: "Was `stats` before minos 0.2: `stats` is talosctl's container statistics (minosctl stats).",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "SystemStat", {}), "SystemStat");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          ["NODE", "BOOT TIME", "CPUS", "USER(s)", "SYSTEM(s)", "IDLE(s)", "CTXT", "PROCS"],
          all.map(({ host, msg: s }) => {
            const t = s.cpu_total;
            return [
              host,
              new Date(s.boot_time * 1000).toISOString(),
              s.cpu.length,
              t?.user ?? 0,
              t?.system ?? 0,
              t?.idle ?? 0,
              s.context_switches,
              s.process_created,
            ];
          }),
        ),
      );
      return 0;
    },
  },

  {
    name: "cpuinfo",
    summary: "processors",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "CPUInfo", {}), "CPUInfo");
      emit(ctx, single(all.map((r) => r.msg.cpu_info)), () =>
        table(
          ["NODE", "PROCESSOR", "VENDOR", "MODEL", "MHZ", "CORES"],
          all.flatMap(({ host, msg }) => msg.cpu_info.map((c) => [host, c.processor, c.vendor_id, c.model_name, c.cpu_mhz.toFixed(0), c.cpu_cores])),
        ),
      );
      return 0;
    },
  },

  {
    name: "netdev",
    summary: "network interface counters",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "NetworkDeviceStats", {}), "NetworkDeviceStats");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          ["NODE", "DEVICE", "RX BYTES", "RX PACKETS", "TX BYTES", "TX PACKETS"],
          all.flatMap(({ host, msg }) => msg.devices.map((d) => [host, d.name, d.rx_bytes, d.rx_packets, d.tx_bytes, d.tx_packets])),
        ),
      );
      return 0;
    },
  },

  {
    name: "diskstats",
    summary: "block device I/O counters (/proc/diskstats)",
    description: "Was `disks` before minos 0.2: `disks` is talosctl's list of disks (the storage Disks call).",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "DiskStats", {}), "DiskStats");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          ["NODE", "DEVICE", "READS", "READ SECTORS", "WRITES", "WRITE SECTORS"],
          all.flatMap(({ host, msg }) => msg.devices.map((x) => [host, x.name, x.read_completed, x.read_sectors, x.write_completed, x.write_sectors])),
        ),
      );
      return 0;
    },
  },

  {
    name: "disks",
    summary: "the node's disks (as talosctl disks; works in maintenance mode)",
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

  {
    name: "reset",
    summary: "wipe the node's state, then power off (or reboot)",
    flags: [
      { name: "graceful", help: "stop the services in order first (default true; --graceful=false skips it)" },
      { name: "reboot", help: "reboot afterwards instead of powering off" },
      { name: "system-labels-to-wipe", value: "LABELS", repeat: true, help: "partitions to wipe, comma-separated (default STATE,EPHEMERAL)" },
    ],
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

  {
    name: "get-config",
    summary: "the node's machine config (secrets redacted below admin)",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("minos.machine.MinosService", "GetConfiguration", {}), "GetConfiguration");
      const texts = all.map((r) => Buffer.from(r.msg.data).toString("utf8"));
      emit(ctx, single(texts.map((config) => ({ config }))), () => texts.join("---\n"));
      return 0;
    },
  },

  {
    name: "apply-config",
    summary: "send a machine config to the node",
    flags: [
      { name: "file", short: "f", value: "FILE", help: "the machine config (YAML, one or more documents)" },
      { name: "mode", short: "m", value: "MODE", help: "auto (default), no-reboot, reboot, staged or try" },
      { name: "dry-run", help: "only report what would change; nothing is applied" },
      { name: "timeout", value: "DURATION", help: "with --mode try: how long the config stays before it is rolled back (e.g. 1m)" },
    ],
    async run(ctx) {
      if (ctx.flags.file === undefined) throw new UsageError("apply-config needs -f FILE");
      const data = readFileSync(String(ctx.flags.file));
      const tryTimeoutMs = ctx.flags.timeout === undefined ? undefined : parseDuration(String(ctx.flags.timeout));
      return applyConfig(ctx, data, tryTimeoutMs);
    },
  },

  {
    name: "shutdown",
    summary: "power the node off (orderly)",
    flags: [{ name: "force", help: "skip the orderly stop of services" }],
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Shutdown", { force: Boolean(ctx.flags.force) }), "Shutdown");
      emit(ctx, single(all.map((r) => r.msg)), () => all.map((r) => `${r.host || "node"}: shutdown started\n`).join(""));
      return 0;
    },
  },

  {
    name: "reboot",
    summary: "reboot the node (orderly)",
    flags: [{ name: "mode", short: "m", value: "MODE", help: "default or powercycle" }],
    async run(ctx) {
      const mode = String(ctx.flags.mode ?? "default").toUpperCase();
      if (mode !== "DEFAULT" && mode !== "POWERCYCLE") throw new UsageError("--mode: want default or powercycle");
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "Reboot", { mode: mode as machine.RebootRequest_Mode }), "Reboot");
      emit(ctx, single(all.map((r) => r.msg)), () => all.map((r) => `${r.host || "node"}: reboot started\n`).join(""));
      return 0;
    },
  },
];

const APPLY_MODES = ["auto", "no_reboot", "reboot", "staged", "try"] as const;

/** ApplyConfiguration with the command's --mode/--dry-run, printed per node (shared by apply-config and patch). */
export async function applyConfig(ctx: CommandContext, data: Uint8Array, tryTimeoutMs?: number): Promise<number> {
  const mode = String(ctx.flags.mode ?? "auto").replace(/-/g, "_");
  if (!(APPLY_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode ${String(ctx.flags.mode)}: want auto, no-reboot, reboot, staged or try`);
  const timeout = tryTimeoutMs !== undefined ? { seconds: Math.floor(tryTimeoutMs / 1000), nanos: (tryTimeoutMs % 1000) * 1e6 } : null;
  const res = await ctx.client().call("machine.MachineService", "ApplyConfiguration", {
    data,
    mode: mode.toUpperCase() as machine.ApplyConfigurationRequest_Mode,
    dry_run: Boolean(ctx.flags["dry-run"]),
    try_mode_timeout: timeout,
  });
  const all = replies(ctx, res, "ApplyConfiguration");
  emit(ctx, single(all.map((r) => r.msg)), () =>
    all
      .map(({ host, msg: r }) =>
        [
          `${ctx.nodes.length > 1 ? `${host}: ` : ""}${ctx.flags["dry-run"] ? "Dry run" : "Applied configuration"} (mode ${r.mode.toLowerCase().replace(/_/g, "-")}): ${r.mode_details}`,
          ...r.warnings.map((w) => `warning: ${w}`),
          ...(r.needs_reboot.length ? [`needs a reboot: ${r.needs_reboot.join(", ")}`] : []),
          "",
        ].join("\n"),
      )
      .join(""),
  );
  return 0;
}

function byName(name: string): Command {
  const c = NODE_COMMANDS.find((x) => x.name === name);
  if (!c) throw new Error(`no command ${name}`);
  return c;
}
