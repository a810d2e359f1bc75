// machine.MachineService: Talos's calls, answered from init's MachineBackend
// (services, logs, events, power, config) and from /proc, /sys and the
// filesystem directly (src/api/procfs). Replies wrap one message per node,
// each with metadata naming this node, as Talos's do.
import type { ApplyMode } from "../../node/config.ts";
import type { ImageNamespace, MachineBackend } from "../../init/backend/contract.ts";
import type { NodeEvent } from "../../node/events.ts";
import type { ServiceInfo } from "../../node/services.ts";
import { authorizeRead, authorizeReadPath } from "../auth.ts";
import type { machine } from "../gen/types.ts";
import { meta, replayThenFollow, type CallContext, type ServiceImpl, type Sink } from "../handler.ts";
import { toTimestamp } from "../schema.ts";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../../lib/errors.ts";
import type { Msg } from "../wire.ts";
import type { common } from "../gen/types.ts";
import { healthMsg, replay, toEventMsg } from "./events.ts";
import { resetHandler } from "./reset.ts";
import { etcdHandlers } from "./etcd.ts";
import { containerHandlers, containersOf, logSource } from "./containers.ts";
import { cpuInfo } from "../procfs/cpuinfo.ts";
import { diskStats } from "../procfs/diskstats.ts";
import { list, read } from "../files.ts";
import { kernelRelease } from "../procfs/kernel.ts";
import { KmsgReader } from "../procfs/kmsg.ts";
import { loadAvg } from "../procfs/loadavg.ts";
import { memInfo } from "../procfs/memory.ts";
import { mounts } from "../procfs/mounts.ts";
import { netDevStats } from "../procfs/netdev.ts";
import { processes } from "../procfs/processes.ts";
import { systemStat } from "../procfs/stat.ts";

const APPLY_MODES: Partial<Record<machine.ApplyConfigurationRequest_Mode, ApplyMode>> = {
  REBOOT: "reboot",
  AUTO: "auto",
  NO_REBOOT: "no_reboot",
  TRY: "try",
  STAGED: "staged",
};
const APPLY_MODE_NAMES: Record<ApplyMode, machine.ApplyConfigurationRequest_Mode> = {
  reboot: "REBOOT",
  auto: "AUTO",
  no_reboot: "NO_REBOOT",
  try: "TRY",
  staged: "STAGED",
};

/** Talos's default for a try without a timeout. */
const DEFAULT_TRY_MS = 60_000;
const KMSG_POLL_MS = 200;

function serviceInfoMsg(s: ServiceInfo): Msg<machine.ServiceInfo> {
  return {
    id: s.id,
    state: s.state,
    events: { events: s.events.map((e) => ({ msg: e.msg, state: e.state, ts: toTimestamp(e.ts) })) },
    health: healthMsg(s.health),
  };
}

/** Talos's ContainerdNamespace: NS_SYSTEM is "system", NS_CRI is "k8s.io"; unset is refused. */
function imageNamespace(ns: common.ContainerdNamespace): ImageNamespace {
  if (ns === "NS_SYSTEM") return "system";
  if (ns === "NS_CRI") return "k8s.io";
  throw new InvalidArgumentError(`containerd namespace ${ns}: use NS_SYSTEM or NS_CRI`);
}

function data(ctx: CallContext, bytes: Uint8Array): Msg<common.Data> {
  return { metadata: meta(ctx), bytes };
}

/**
 * The message of the line sent last: a ring hands one line to all its
 * followers in a row, so every stream following it gets the same message
 * object, and the sink encodes it once (server.ts) instead of once a stream.
 */
let lastLine: { line: string; hostname: string; msg: Msg<common.Data> } | undefined;

/** Sends lines to a sink, each as one Data message ending in "\n", as Talos's log streams do. */
function sendLine(sink: Sink<common.Data>, ctx: CallContext, line: string): boolean {
  if (lastLine?.line !== line || lastLine.hostname !== ctx.hostname)
    lastLine = { line, hostname: ctx.hostname, msg: data(ctx, Buffer.from(line.endsWith("\n") ? line : line + "\n")) };
  return sink.push(lastLine.msg);
}

/** As lastLine: the event sent last, one message object for every stream it goes to. */
let lastEvent: { event: NodeEvent; hostname: string; msg: Msg<machine.Event> } | undefined;

function eventMsg(event: NodeEvent, hostname: string): Msg<machine.Event> {
  if (lastEvent?.event !== event || lastEvent.hostname !== hostname) lastEvent = { event, hostname, msg: toEventMsg(event, hostname) };
  return lastEvent.msg;
}

export interface MachineServiceOptions {
  /** The directory non-admins may not Read below (auth.ts STATE_DIR on a node). */
  stateDir?: string;
}

export function machineService(backend: MachineBackend, opts: MachineServiceOptions = {}): ServiceImpl<"machine.MachineService"> {
  // The running kernel cannot change under a live init, so /proc is read once
  // (reading it on every Version call was a quarter of the server's CPU at
  // load). "" (no /proc yet) is not kept: the next call asks again.
  let kernel = "";
  const release = () => (kernel ||= kernelRelease());
  return {
    ...etcdHandlers(backend),
    ...containerHandlers(backend),
    async Version(_req, ctx) {
      const v = backend.version();
      return {
        messages: [
          {
            metadata: meta(ctx),
            version: { tag: v.tag, sha: v.sha, built: v.built, go_version: v.goVersion, os: v.os, arch: v.arch, kernel: release() },
            platform: { name: "metal", mode: "metal" },
            features: { rbac: true },
          },
        ],
      };
    },

    async Hostname(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), hostname: backend.hostname() }] };
    },

    async ImageList(req, ctx, sink) {
      const images = backend.images;
      if (!images) throw new FailedPreconditionError("no containerd on this node");
      for (const i of await images.list(imageNamespace(req.namespace))) {
        if (!sink.push({ metadata: meta(ctx), name: i.name, digest: i.digest, size: i.size, created_at: i.createdAt ? toTimestamp(i.createdAt) : null }))
          return;
        await sink.ready();
      }
    },
    async ImagePull(req, ctx) {
      const images = backend.images;
      if (!images) throw new FailedPreconditionError("no containerd on this node");
      if (!req.reference) throw new InvalidArgumentError("ImagePull: reference is empty");
      await images.pull(imageNamespace(req.namespace), req.reference);
      return { messages: [{ metadata: meta(ctx) }] };
    },

    async ServiceList(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), services: backend.listServices().map(serviceInfoMsg) }] };
    },

    async ServiceStart(req, ctx) {
      return { messages: [{ metadata: meta(ctx), resp: await backend.startService(req.id) }] };
    },
    async ServiceStop(req, ctx) {
      return { messages: [{ metadata: meta(ctx), resp: await backend.stopService(req.id) }] };
    },
    async ServiceRestart(req, ctx) {
      return { messages: [{ metadata: meta(ctx), resp: await backend.restartService(req.id) }] };
    },

    async Logs(req, ctx, sink) {
      if (logSource(req) === "cri") {
        const lines = containersOf(backend).criLogs(req.id, { tailLines: req.tail_lines, follow: req.follow, signal: sink.signal });
        for await (const line of lines) {
          if (!sendLine(sink, ctx, line)) return;
          await sink.ready();
        }
        return;
      }
      const ring = backend.logs(req.id);
      if (!ring) throw new NotFoundError(`service "${req.id}" not found`);
      await replayThenFollow(
        sink,
        () => (req.tail_lines < 0 ? ring.tail() : ring.tail(req.tail_lines)),
        req.follow ? (fn) => ring.follow(fn) : undefined,
        (line) => sendLine(sink, ctx, line),
      );
    },

    async Dmesg(req, ctx, sink) {
      const kmsg = new KmsgReader();
      // The kernel buffer may hold more records than a stream may queue
      // (streams.ts STREAM_LIMITS): wait for the client between messages, as List
      // and Read do, instead of queueing it all at once.
      const send = async (lines: string[]): Promise<boolean> => {
        for (const line of lines) {
          if (!sendLine(sink, ctx, line)) return false;
          await sink.ready();
        }
        return true;
      };
      try {
        const first = kmsg.drain();
        if (!req.tail && !(await send(first))) return;
        if (!req.follow) return;
        while (!sink.signal.aborted) {
          await new Promise((r) => setTimeout(r, KMSG_POLL_MS));
          if (!(await send(kmsg.drain()))) return;
        }
      } finally {
        kmsg.close();
      }
    },

    async Events(req, ctx, sink) {
      const hostname = ctx.hostname;
      await replayThenFollow(
        sink,
        () => replay(backend.eventHistory(), req),
        (fn) =>
          backend.subscribeEvents((e) => {
            if (!req.with_actor_id || e.actorId === req.with_actor_id) fn(e);
          }),
        (e) => sink.push(eventMsg(e, hostname)),
      );
    },

    async Shutdown(_req, ctx) {
      backend.powerAction("poweroff", ctx.actorId);
      return { messages: [{ metadata: meta(ctx), actor_id: ctx.actorId ?? "" }] };
    },

    Reset: resetHandler(backend),

    async Reboot(_req, ctx) {
      // DEFAULT and POWERCYCLE both mean a full reboot here: minos has no kexec path.
      backend.powerAction("reboot", ctx.actorId);
      return { messages: [{ metadata: meta(ctx), actor_id: ctx.actorId ?? "" }] };
    },

    async ApplyConfiguration(req, ctx) {
      const mode = APPLY_MODES[req.mode];
      if (!mode) throw new InvalidArgumentError(`apply mode ${req.mode} is not supported (use no_reboot, reboot, auto, staged or try)`);
      const tryMs = req.try_mode_timeout ? durationMs(req.try_mode_timeout) : 0;
      const result = await backend.applyConfiguration(
        req.data,
        mode,
        mode === "try" ? tryMs || DEFAULT_TRY_MS : undefined,
        ctx.signal,
        req.dry_run,
        ctx.actorId,
      );
      return {
        // The hostname may just have changed: name the node as it is now.
        messages: [
          {
            metadata: { hostname: backend.hostname() },
            warnings: result.warnings,
            mode: APPLY_MODE_NAMES[result.mode],
            mode_details: result.details,
            needs_reboot: result.needsReboot,
          },
        ],
      };
    },

    async List(req, ctx, sink) {
      const opts = { root: req.root || "/", recurse: req.recurse, depth: req.recursion_depth, types: req.types };
      for (const entry of list(opts)) {
        if (!sink.push({ ...entry, metadata: meta(ctx) })) return;
        await sink.ready();
      }
    },

    async Read(req, ctx, sink) {
      if (!req.path) throw new InvalidArgumentError("path is required");
      authorizeReadPath(ctx.role, req.path, opts.stateDir);
      for await (const chunk of read(req.path, (opened) => authorizeRead(ctx.role, req.path, opened, opts.stateDir))) {
        if (!sink.push(data(ctx, chunk))) return;
        await sink.ready();
      }
    },

    async Mounts(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), stats: mounts() }] };
    },
    async Memory(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), meminfo: memInfo() }] };
    },
    async LoadAvg(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), ...loadAvg() }] };
    },
    async SystemStat(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), ...systemStat() }] };
    },
    async CPUInfo(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), cpu_info: cpuInfo() }] };
    },
    async Processes(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), processes: processes() }] };
    },
    async NetworkDeviceStats(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), ...netDevStats() }] };
    },
    async DiskStats(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), ...diskStats() }] };
    },
  };
}

/** A protobuf Duration in whole ms (rounded up, so a positive one never becomes 0, "the default"); a negative or malformed one is refused. */
function durationMs(d: { seconds: number; nanos: number }): number {
  const { seconds, nanos } = d;
  if (!Number.isFinite(seconds) || !Number.isInteger(nanos) || nanos <= -1e9 || nanos >= 1e9) {
    throw new InvalidArgumentError(`try_mode_timeout: not a valid duration (seconds ${seconds}, nanos ${nanos})`);
  }
  if (seconds < 0 || nanos < 0) throw new InvalidArgumentError("try_mode_timeout: must not be negative");
  return seconds * 1000 + Math.ceil(nanos / 1e6);
}
