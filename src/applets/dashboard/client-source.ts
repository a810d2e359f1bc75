// DashboardSource on top of the machine API client (src/api/client.ts).
// Every call it makes is open to the reader role: the dashboard never needs
// write access (GetConfiguration answers readers too, with secrets redacted).
import type { MachineClient } from "../../api/client.ts";
import { firstLine } from "../../lib/errors.ts";
import { cpuTimes, diskSamples, eventText, isSequenceEvent, kernelText, memory, netSample, processSample, serviceRow, versionText } from "./api-map.ts";
import type { DashboardSource, EventRow, NodeSample, SampleRequest, Section } from "./source.ts";

/** The read-only calls the dashboard makes; tests pass a fake with this shape. */
export type MachineReader = Pick<
  MachineClient,
  | "version"
  | "hostname"
  | "serviceList"
  | "memory"
  | "loadAvg"
  | "systemStat"
  | "cpuInfo"
  | "processes"
  | "networkDeviceStats"
  | "diskStats"
  | "logs"
  | "events"
  | "getConfiguration"
  | "scheduledShutdown"
  | "close"
> &
  // Optional: a node (or a test fake) without the network calls still gets a dashboard.
  Partial<Pick<MachineClient, "addresses">>;

const EVENTS_KEPT = 50;

/** Why a section failed, in a few words (gRPC errors carry `details`). */
const reason = (e: unknown): string => firstLine(e, "failed");

export function readerSource(client: MachineReader, now: () => number = Date.now): DashboardSource {
  const events: EventRow[] = [];
  let eventsError: string | undefined;
  let closed = false;
  // Events are a stream: follow it for the life of the connection and keep the newest.
  const stream = client.events({ tail: EVENTS_KEPT });
  void (async () => {
    try {
      for await (const ev of stream) {
        if (!isSequenceEvent(ev.type)) continue;
        // The node's own time, so replayed history is not all stamped "now"; an older server sends none.
        events.push({ ts: ev.ts?.getTime() ?? now(), text: eventText(ev.type, ev.payload) });
        if (events.length > EVENTS_KEPT) events.shift();
      }
    } catch (e) {
      if (!closed) eventsError = reason(e);
    }
  })();

  const logTail = async (id: string, n: number): Promise<string[]> => {
    const lines: string[] = [];
    for await (const l of client.logs(id, { tail: n, follow: false })) lines.push(...l.split("\n"));
    return lines.slice(-n);
  };

  return {
    async sample(req: SampleRequest): Promise<NodeSample> {
      // Identity first: if the node cannot answer this, it is unreachable. The
      // reply's metadata names the node, so no separate Hostname call is needed.
      const version = await client.version();
      const hostname = version.metadata?.hostname ?? "";
      const errors: Partial<Record<Section, string>> = {};
      const get = async <T>(section: Section, p: Promise<T>): Promise<T | undefined> => {
        try {
          return await p;
        } catch (e) {
          errors[section] ??= reason(e);
          return undefined;
        }
      };
      const [services, mem, load, stat, cpus, procs, net, disks, log, config, shutdown, addrs] = await Promise.all([
        get("services", client.serviceList()),
        get("system", client.memory()),
        get("system", client.loadAvg()),
        get("system", client.systemStat()),
        get("system", client.cpuInfo()),
        get("processes", client.processes()),
        get("net", client.networkDeviceStats()),
        get("disks", client.diskStats()),
        get("log", logTail("machined", req.logLines)),
        req.config ? get("config", client.getConfiguration()) : Promise.resolve(undefined),
        get("config", client.scheduledShutdown()),
        // A node without the network calls (an older minos) shows no Addresses, and no error for it.
        client.addresses ? client.addresses().catch(() => undefined) : Promise.resolve(undefined),
      ]);
      if (eventsError) errors.events = eventsError;
      return {
        hostname,
        version: versionText(version.version),
        kernel: kernelText(version.version),
        bootTime: stat ? stat.boot_time * 1000 : undefined,
        cpu: cpuTimes(stat?.cpu_total),
        cpuCount: cpus?.length || stat?.cpu.length || undefined,
        memory: memory(mem),
        load: load ? [load.load1, load.load5, load.load15] : undefined,
        processCount: procs?.length,
        services: services?.map(serviceRow),
        log: log,
        processes: procs?.map(processSample),
        net: net?.devices.map(netSample),
        disks: disks && diskSamples(disks.devices),
        config,
        events: events.slice(),
        scheduledShutdown: shutdown && { action: shutdown.action, at: shutdown.at.getTime(), message: shutdown.message },
        ...(addrs && { addresses: addrs.addresses.filter((a) => a.scope === "global").map((a) => `${a.link_name} ${a.address}`) }),
        errors,
      };
    },
    close() {
      closed = true;
      stream.cancel();
      client.close();
    },
  };
}
