// Memory: /proc/meminfo as Talos's MemInfo (values in KiB, as the kernel reports them).
import type { machine } from "../gen/types.ts";
import type { Msg } from "../wire.ts";
import { readProc, fields, num } from "./read.ts";

/** /proc/meminfo keys whose Talos field name is not just the lower-cased key. */
const RENAMES: Record<string, keyof machine.MemInfo> = {
  "Active(anon)": "activeanon",
  "Inactive(anon)": "inactiveanon",
  "Active(file)": "activefile",
  "Inactive(file)": "inactivefile",
  NFS_Unstable: "nfsunstable",
  Committed_AS: "committedas",
  HugePages_Total: "hugepagestotal",
  HugePages_Free: "hugepagesfree",
  HugePages_Rsvd: "hugepagesrsvd",
  HugePages_Surp: "hugepagessurp",
  Hugepagesize: "hugepagesize",
  DirectMap4k: "directmap4k",
  DirectMap2M: "directmap2m",
  DirectMap1G: "directmap1g",
};

export function memInfo(text = readProc("meminfo")): Msg<machine.MemInfo> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s*(\d+)/.exec(line);
    if (!m) continue;
    const key = RENAMES[m[1]!] ?? m[1]!.toLowerCase().replace(/[^a-z0-9]/g, "");
    out[key] = num(fields(m[2]!)[0]);
  }
  return out as Msg<machine.MemInfo>;
}
