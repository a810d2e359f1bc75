// The CRI plugin's settings that depend on the booted node (see
// src/containerd/cri-config.ts): written as containerd's import before
// containerd starts, each adjustment with its reason in the log — never
// silently. A plain node (a kernel boot with a real root, every controller,
// CAP_SYS_RESOURCE) gets exactly the rootfs's defaults.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CRI_CONFIG_DROPIN, criAdjustments, criDropin, type CriNodeFacts } from "../../containerd/cri-config.ts";

export interface CriProbe {
  /** The node's / is the kernel's initramfs (container-runner.ts rootIsInitramfs). */
  rootIsInitramfs: boolean;
  /** The controllers of the node's cgroup root (its cgroup.controllers). */
  controllers: string[];
  /** init holds CAP_SYS_RESOURCE (it may hand out negative oom scores). */
  canLowerOomScore: boolean;
}

export function criNodeFacts(p: CriProbe): CriNodeFacts {
  return { noPivotRoot: p.rootIsInitramfs, disableCgroup: !p.controllers.includes("cpu"), restrictOomScoreAdj: !p.canLowerOomScore };
}

/** The controllers listed in a cgroup.controllers file ([] when it cannot be read). */
export function controllersAt(file: string): string[] {
  try {
    return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** Writes the drop-in (complete CRI table) and returns the adjustments it makes, one reason each. */
export function writeCriConfig(facts: CriNodeFacts, path = CRI_CONFIG_DROPIN): string[] {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, criDropin(facts));
  return criAdjustments(facts);
}
