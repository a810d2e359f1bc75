// Per-processor details from /proc/cpuinfo (x86 layout; other keys are ignored).
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

type Setter = (c: Msg<machine.CPUInfo>, v: string) => void;
const str =
  (k: keyof machine.CPUInfo): Setter =>
  (c, v) =>
    void ((c as Record<string, unknown>)[k] = v);
const n =
  (k: keyof machine.CPUInfo): Setter =>
  (c, v) =>
    void ((c as Record<string, unknown>)[k] = num(v));
const list =
  (k: keyof machine.CPUInfo): Setter =>
  (c, v) =>
    void ((c as Record<string, unknown>)[k] = fields(v));

const KEYS: Record<string, Setter> = {
  processor: n("processor"),
  vendor_id: str("vendor_id"),
  "cpu family": str("cpu_family"),
  model: str("model"),
  "model name": str("model_name"),
  stepping: str("stepping"),
  microcode: str("microcode"),
  "cpu MHz": n("cpu_mhz"),
  "cache size": str("cache_size"),
  "physical id": str("physical_id"),
  siblings: n("siblings"),
  "core id": str("core_id"),
  "cpu cores": n("cpu_cores"),
  apicid: str("apic_id"),
  "initial apicid": str("initial_apic_id"),
  fpu: str("fpu"),
  fpu_exception: str("fpu_exception"),
  "cpuid level": n("cpu_id_level"),
  wp: str("wp"),
  flags: list("flags"),
  bugs: list("bugs"),
  bogomips: n("bogo_mips"),
  "clflush size": n("cl_flush_size"),
  cache_alignment: n("cache_alignment"),
  "address sizes": str("address_sizes"),
  "power management": str("power_management"),
};

export function cpuInfo(text = readProc("cpuinfo")): Msg<machine.CPUInfo>[] {
  const cpus: Msg<machine.CPUInfo>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    if (!block.trim()) continue;
    const cpu: Msg<machine.CPUInfo> = {};
    for (const line of block.split("\n")) {
      const i = line.indexOf(":");
      if (i < 0) continue;
      KEYS[line.slice(0, i).trim()]?.(cpu, line.slice(i + 1).trim());
    }
    cpus.push(cpu);
  }
  return cpus;
}
