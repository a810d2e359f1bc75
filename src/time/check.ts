// Whether a datagram is a usable answer to our request (RFC 4330 §5 and §7,
// RFC 5905 §8 and §11's tests), and the offset and delay it measures.
//
// The checks run in two groups. The first decides whether the datagram is an
// answer to OUR request at all — from the address we asked, a full header,
// server mode, our nonce echoed as origin. Anything failing these is ignored and
// the query keeps waiting (a spoofer or a stray packet must not end it). A
// datagram that passes them is the server's genuine answer, so a failure of the
// second group (kiss-o'-death, unsynchronised, absurd values) ends the query.
import { decodePacket, LEAP_UNSYNCHRONIZED, MODE_SERVER, refIdText, STRATUM_KISS, STRATUM_UNSYNCHRONIZED, VERSION, type NtpPacket } from "./packet.ts";
import { ntpToUnixNs } from "./timestamp.ts";

export type RejectReason =
  // not an answer to our request (the query keeps waiting)
  | "unexpected-source"
  | "short"
  | "mode"
  | "origin-mismatch"
  // the server's answer, unusable
  | "version"
  | "kiss"
  | "stratum-unsynchronized"
  | "leap-unsynchronized"
  | "zero-transmit"
  | "root-distance"
  | "negative-delay"
  | "before-floor";

/** Reasons that only say "this is not our answer". */
export const NOT_OUR_ANSWER: ReadonlySet<RejectReason> = new Set(["unexpected-source", "short", "mode", "origin-mismatch"]);

export interface Rejection {
  reason: RejectReason;
  detail: string;
  /** The kiss code of a kiss-o'-death (stratum 0) answer: "RATE", "DENY", "RSTR", ... */
  kiss?: string;
}

export interface CheckLimits {
  /**
   * Largest root distance (root delay / 2 + root dispersion) accepted, seconds.
   * ntpd's MAXDIST is 1.5 s; a server further from its reference than that is
   * no better than a guess.
   */
  maxRootDistanceS: number;
  /** Earliest plausible time, Unix ns: an answer naming an earlier instant is a lie or a broken server. */
  notBeforeNs: bigint;
}

export const DEFAULT_LIMITS: CheckLimits = {
  maxRootDistanceS: 1.5,
  // 2025-01-01T00:00:00Z: older than any minos build.
  notBeforeNs: 1_735_689_600n * 1_000_000_000n,
};

/** What we know about a request when its answer arrives. */
export interface Exchange {
  /** The address and port we sent to. */
  address: string;
  port: number;
  /** The nonce we sent as transmit timestamp. */
  nonce: bigint;
  /** Our clock when the request left (T1), and when the answer arrived (T4), Unix ns. */
  t1Ns: bigint;
  t4Ns: bigint;
}

export interface Measurement {
  /** How far the server's clock is ahead of ours (positive: our clock is slow), ns. */
  offsetNs: bigint;
  /** Round trip minus the server's processing time, ns. */
  delayNs: bigint;
  /** The server's transmit time (T3) resolved to an instant, Unix ns. */
  remoteNs: bigint;
}

/**
 * The four timestamps of RFC 5905 §8: T1 we sent, T2 the server received,
 * T3 the server sent, T4 we received.
 *   offset = ((T2 - T1) + (T3 - T4)) / 2
 *   delay  = (T4 - T1) - (T3 - T2)
 * T1 and T4 are our clock (Unix ns); T2 and T3 the server's 32.32 timestamps.
 * The server's are first resolved to instants against `pivotNs` (the one within
 * 68 years of it; see timestamp.ts), then everything is plain bigint
 * arithmetic: right across the 2036 era rollover, and right even when our own
 * clock is decades off (an unset RTC reading 1970) as long as the pivot is not.
 */
export function measure(t1Ns: bigint, t2: bigint, t3: bigint, t4Ns: bigint, pivotNs: bigint = t4Ns): Measurement {
  const t2Ns = ntpToUnixNs(t2, pivotNs);
  const t3Ns = ntpToUnixNs(t3, pivotNs);
  return {
    offsetNs: (t2Ns - t1Ns + (t3Ns - t4Ns)) / 2n,
    delayNs: t4Ns - t1Ns - (t3Ns - t2Ns),
    remoteNs: t3Ns,
  };
}

export type CheckResult = { ok: true; packet: NtpPacket; measurement: Measurement } | ({ ok: false; packet?: NtpPacket } & Rejection);

function reject(reason: RejectReason, detail: string, packet?: NtpPacket, kiss?: string): CheckResult {
  return kiss === undefined ? { ok: false, reason, detail, packet } : { ok: false, reason, detail, packet, kiss };
}

/** Checks a datagram from `from` against the request `ex`; on success, what it measures. */
export function checkReply(data: Uint8Array, from: { address: string; port: number }, ex: Exchange, limits: CheckLimits = DEFAULT_LIMITS): CheckResult {
  // Group 1: is this an answer to our request?
  if (from.address !== ex.address || from.port !== ex.port)
    return reject("unexpected-source", `from ${from.address}:${from.port}, asked ${ex.address}:${ex.port}`);
  const p = decodePacket(data);
  if (!p) return reject("short", `${data.length} bytes, an NTP header has 48`);
  if (p.mode !== MODE_SERVER) return reject("mode", `mode ${p.mode}, a server answers in mode ${MODE_SERVER}`, p);
  if (p.originTs !== ex.nonce) return reject("origin-mismatch", "origin timestamp is not the nonce we sent (stale, duplicate or forged)", p);

  // Group 2: the server's answer; is it usable?
  if (p.version !== VERSION) return reject("version", `version ${p.version}, we asked in version ${VERSION}`, p);
  if (p.stratum === STRATUM_KISS) {
    const code = refIdText(p.refId);
    return reject("kiss", `kiss-o'-death ${code || "(empty)"}`, p, code);
  }
  if (p.stratum >= STRATUM_UNSYNCHRONIZED) return reject("stratum-unsynchronized", `stratum ${p.stratum}: the server is not synchronised`, p);
  if (p.leap === LEAP_UNSYNCHRONIZED) return reject("leap-unsynchronized", "leap indicator 3: the server's clock is not synchronised", p);
  if (p.transmitTs === 0n) return reject("zero-transmit", "transmit timestamp is zero", p);
  if (p.receiveTs === 0n) return reject("zero-transmit", "receive timestamp is zero", p);
  const distance = p.rootDelay / 2 + p.rootDispersion;
  if (distance > limits.maxRootDistanceS) {
    return reject(
      "root-distance",
      `root distance ${distance.toFixed(3)} s (delay ${p.rootDelay.toFixed(3)} s, dispersion ${p.rootDispersion.toFixed(3)} s) exceeds ${limits.maxRootDistanceS} s`,
      p,
    );
  }
  // Our clock is the pivot unless it reads earlier than the floor (an unset RTC):
  // then the floor is, so a 1970 clock still resolves a 2040 server correctly.
  // biome-ignore lint/complexity/useMathMinMax: bigints; Math.max takes numbers only
  const pivot = ex.t4Ns < limits.notBeforeNs ? limits.notBeforeNs : ex.t4Ns;
  const m = measure(ex.t1Ns, p.receiveTs, p.transmitTs, ex.t4Ns, pivot);
  if (m.delayNs < 0n)
    return reject("negative-delay", `round-trip delay ${m.delayNs} ns < 0 (the server claims it held our request longer than the whole round trip)`, p);
  if (m.remoteNs < limits.notBeforeNs)
    return reject(
      "before-floor",
      `server time ${new Date(Number(m.remoteNs / 1_000_000n)).toISOString()} is before ${new Date(Number(limits.notBeforeNs / 1_000_000n)).toISOString()}`,
      p,
    );
  return { ok: true, packet: p, measurement: m };
}
