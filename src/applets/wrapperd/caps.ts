// Capabilities for the service, in two halves around the uid switch.
//
// How the sets behave at execve (capabilities(7)), which decides everything here:
//  * A root service (uid 0 after the switch, no file caps) gets
//      permitted' = bounding | inheritable,  effective' = permitted'.
//    Whatever we capset before exec is recomputed from the BOUNDING set, so for
//    root the bounding drop (PR_CAPBSET_DROP) is the step that actually removes a
//    capability; capset only keeps this process honest until execve.
//  * A non-root service gets permitted' = effective' = ambient (plus file caps).
//    setuid(0 -> non-root) empties permitted and effective unless SET_KEEPCAPS is
//    on, and always empties ambient. So to let a non-root service keep
//    --keep-caps: SET_KEEPCAPS before setuid, capset after it (effective was
//    cleared), then raise each kept cap in ambient, which requires it in both
//    permitted and inheritable.
// Decisions:
//  * inheritable = parent's inheritable ∩ kept (root normally has 0, so a root
//    service sees 0); for a non-root --keep-caps service it is the kept set,
//    because ambient can only hold caps that are inheritable.
//  * ambient is cleared, then re-raised for (parent's ambient ∩ kept) for a root
//    service — never a cap the parent did not have there — or for the kept set
//    for a non-root --keep-caps service.
//  * A non-root --uid without --keep-caps ends with no capabilities at all, as
//    setuid(2) intends: even --dropped-caps=X --uid N does not mean "all but X".
//  * setgroups/setgid/setuid need CAP_SETGID/CAP_SETUID in effective. If a uid or
//    gid switch follows, those two stay in permitted/effective ("transit") until
//    finish() even when the service must not keep them; the bounding set has
//    already lost them, so the service can never get them back. (glibc applies
//    set*id to every thread and aborts the process if threads disagree: keeping
//    the caps on this thread is also what keeps that broadcast consistent.)
import { allCaps, capBit, capget, capNames, capset, kernelLastCap, type CapSet } from "../../sys/caps.ts";
import { ambientClearAll, ambientIsSet, ambientRaise, capbsetDrop, capbsetRead, setKeepCaps } from "../../sys/prctl.ts";
import type { CapRequest } from "./flags.ts";

const CAP_SETGID = 6;
const CAP_SETUID = 7;

export interface CapPlan {
  /** Upper bound of every set the service will have; becomes the bounding set. */
  kept: CapSet;
  /** The service will run as non-root and keeps `kept` through ambient caps. */
  viaAmbient: boolean;
  /** Caps held only until the identity step is done. */
  transit: CapSet;
}

export function planCaps(req: CapRequest | null, identityChange: boolean, nonRootUid: boolean, lastCap = kernelLastCap()): CapPlan {
  const all = allCaps(lastCap);
  let kept = all;
  if (req) {
    const listed = req.caps.reduce((m, c) => m | capBit(c), 0n) & all;
    kept = req.mode === "drop" ? all & ~listed : listed;
  }
  return {
    kept,
    viaAmbient: nonRootUid && req?.mode === "keep",
    transit: identityChange ? capBit(CAP_SETGID) | capBit(CAP_SETUID) : 0n,
  };
}

export interface CapsBefore {
  /** The parent's ambient set, read before clearing it. */
  ambient: CapSet;
}

/** First half, before the identity switch: bounding drop, ambient clear, capset. */
export function applyCaps(plan: CapPlan, lastCap = kernelLastCap()): CapsBefore {
  for (let c = 0; c <= lastCap; c++) {
    if (!(plan.kept & capBit(c)) && capbsetRead(c)) capbsetDrop(c);
  }
  const ambient = readAmbient(lastCap);
  ambientClearAll();
  const cur = capget();
  const permitted = cur.permitted & (plan.kept | plan.transit);
  capset({
    permitted,
    effective: permitted,
    // Raised now, while CAP_SETPCAP may still be effective; after setuid the
    // kernel only lets inheritable grow within permitted.
    inheritable: plan.viaAmbient ? plan.kept & cur.permitted : cur.inheritable & plan.kept,
  });
  if (plan.viaAmbient) setKeepCaps(true);
  return { ambient };
}

/** Second half, after the identity switch: drop transit caps, raise ambient. */
export function finishCaps(plan: CapPlan, before: CapsBefore, lastCap = kernelLastCap()): void {
  if (plan.viaAmbient) setKeepCaps(false);
  const cur = capget();
  // After setuid to non-root, effective is empty and permitted is whatever KEEPCAPS preserved.
  const permitted = cur.permitted & plan.kept;
  capset({ permitted, effective: permitted, inheritable: cur.inheritable & plan.kept });
  const raise = plan.viaAmbient ? permitted : before.ambient & permitted;
  for (let c = 0; c <= lastCap; c++) if (raise & capBit(c)) ambientRaise(c);
  verify(plan, lastCap);
}

/** Reads the result back: a service must never start with a cap outside `kept`. */
function verify(plan: CapPlan, lastCap: number): void {
  const cur = capget();
  const extra = (cur.permitted | cur.effective | cur.inheritable | readAmbient(lastCap) | readBounding(lastCap)) & ~plan.kept;
  if (extra !== 0n) throw new Error(`capabilities still held after dropping: ${capNames(extra).join(",")}`);
}

function readAmbient(lastCap: number): CapSet {
  let set = 0n;
  for (let c = 0; c <= lastCap; c++) if (ambientIsSet(c)) set |= capBit(c);
  return set;
}

function readBounding(lastCap: number): CapSet {
  let set = 0n;
  for (let c = 0; c <= lastCap; c++) if (capbsetRead(c)) set |= capBit(c);
  return set;
}
