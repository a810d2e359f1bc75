// Machine API messages (Talos's wire shapes, src/api/gen/types.ts) -> the
// dashboard's own rows. Pure functions, so the adapter stays thin and these
// are tested without a node.
import type { google, machine } from "../../api/gen/types.ts";
import type { CpuTimes, DiskSample, NetSample, ProcessSample, ServiceRow } from "./source.ts";

const SECTOR = 512; // /proc/diskstats counts 512-byte sectors whatever the device's block size

export function serviceRow(s: machine.ServiceInfo): ServiceRow {
  const h = s.health;
  const last = s.events?.events.at(-1)?.msg ?? "";
  return {
    id: s.id,
    state: s.state,
    healthy: !h || h.unknown ? undefined : h.healthy,
    message: h && !h.unknown && h.last_message ? h.last_message : last,
  };
}

export function cpuTimes(c: machine.CPUStat | null | undefined): CpuTimes | undefined {
  if (!c) return undefined;
  const idle = c.idle + c.iowait;
  const busy = c.user + c.nice + c.system + c.irq + c.soft_irq + c.steal;
  return { busy, total: busy + idle };
}

/** Talos MemInfo is in KiB, as /proc/meminfo. */
export function memory(m: machine.MemInfo | null | undefined): { totalBytes: number; availableBytes: number } | undefined {
  if (!m || m.memtotal <= 0) return undefined;
  const available = m.memavailable > 0 ? m.memavailable : m.memfree + m.buffers + m.cached;
  return { totalBytes: m.memtotal * 1024, availableBytes: available * 1024 };
}

export function processSample(p: machine.ProcessInfo): ProcessSample {
  const args = p.args || p.executable;
  return { pid: p.pid, state: p.state, threads: p.threads, cpuSeconds: p.cpu_time, residentBytes: p.resident_memory, command: p.command, args };
}

export function netSample(d: machine.NetDev): NetSample {
  return { name: d.name, rxBytes: d.rx_bytes, txBytes: d.tx_bytes };
}

/** Whole disks and partitions, without the loop/ram devices that only add noise. */
export function diskSamples(devices: machine.DiskStat[]): DiskSample[] {
  return devices
    .filter((d) => !/^(loop|ram)\d+$/.test(d.name) && (d.read_completed > 0 || d.write_completed > 0))
    .map((d) => ({ name: d.name, readBytes: d.read_sectors * SECTOR, writeBytes: d.write_sectors * SECTOR }));
}

export function versionText(v: machine.VersionInfo | null | undefined): string {
  if (!v) return "-";
  return v.sha ? `${v.tag} (${v.sha.slice(0, 7)})` : v.tag;
}

/** The kernel release, or undefined (shown as "-") from a server that does not report it. */
export function kernelText(v: machine.VersionInfo | null | undefined): string | undefined {
  return v?.kernel || undefined;
}

function fromTimestamp(t: google.protobuf.Timestamp | null | undefined): number | undefined {
  return t ? Number(t.seconds) * 1000 + Math.floor(Number(t.nanos) / 1e6) : undefined;
}

/** One line for an event payload (already decoded from its Any by type name). */
export function eventText(typeName: string, v: Record<string, unknown>): string {
  const str = (k: string) => String(v[k] ?? "");
  const err = (v.error as { message?: string } | null | undefined)?.message;
  switch (typeName) {
    case "machine.SequenceEvent":
      return `sequence ${str("sequence")}: ${str("action").toLowerCase()}${err ? ` (error: ${err})` : ""}`;
    case "machine.PhaseEvent":
      return `phase ${str("phase")}: ${str("action").toLowerCase()}`;
    case "machine.TaskEvent":
      return `task ${str("task")}: ${str("action").toLowerCase()}`;
    case "machine.ServiceStateEvent":
      return `service ${str("service")}: ${str("action").toLowerCase()}${v.message ? ` - ${str("message")}` : ""}`;
    case "minos.machine.ShutdownScheduledEvent": {
      const at = fromTimestamp(v.at as google.protobuf.Timestamp | null);
      const when = at === undefined ? "" : ` at ${new Date(at).toISOString().slice(0, 19).replace("T", " ")} UTC`;
      return `shutdown scheduled: ${str("action").toLowerCase()}${when}${v.message ? ` - ${str("message")}` : ""}`;
    }
    case "minos.machine.ShutdownCancelledEvent":
      return `shutdown cancelled${v.message ? `: ${str("message")}` : ""}`;
    case "minos.machine.ConfigEvent":
      return `config: ${str("message")}`;
    case "machine.AddressEvent":
      return `addresses: ${((v.addresses as string[] | undefined) ?? []).join(" ") || "none"}`;
    case "minos.machine.NetworkEvent":
      return `network: ${str("message")}`;
    default:
      return typeName;
  }
}

/** Whether an event is one the Config screen lists (sequences, not every service flap). */
export function isSequenceEvent(typeName: string): boolean {
  return typeName !== "machine.ServiceStateEvent" && typeName !== "machine.TaskEvent";
}
