// NTP's 64-bit timestamps (RFC 5905 §6): 32 bits of seconds since 1900-01-01
// and 32 bits of fraction. The seconds wrap every 2^32 s (136 years, the first
// "era" ends 2036-02-07), so a timestamp alone does not name an instant. Two
// rules keep us era-safe without knowing the era:
//   - differences are taken modulo 2^64 and read as signed (RFC 5905 §6): right
//     whenever the two instants are less than 68 years apart, whichever eras;
//   - an absolute time is resolved against a pivot we trust (our own clock):
//     the instant of the given timestamp closest to the pivot.
// Times in minos are bigint nanoseconds since the Unix epoch.

const NS = 1_000_000_000n;
const MASK64 = (1n << 64n) - 1n;
const SIGN64 = 1n << 63n;
/** Seconds from 1900-01-01 (NTP's prime epoch) to 1970-01-01. */
export const NTP_UNIX_OFFSET_S = 2_208_988_800n;

/** Unix nanoseconds -> an NTP timestamp (the era is dropped; fraction truncated). */
export function unixNsToNtp(ns: bigint): bigint {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  const ntpSec = (sec + NTP_UNIX_OFFSET_S) & 0xffff_ffffn;
  const frac = (nsec << 32n) / NS;
  return (ntpSec << 32n) | frac;
}

/** a - b for two NTP timestamps, as a signed 32.32 fixed-point number (modular). */
export function ntpDiff(a: bigint, b: bigint): bigint {
  const d = (a - b) & MASK64;
  return d >= SIGN64 ? d - (1n << 64n) : d;
}

/** A signed 32.32 fixed-point duration -> nanoseconds (rounded to nearest). */
export function fixedToNs(d: bigint): bigint {
  const neg = d < 0n;
  const mag = neg ? -d : d;
  const ns = (mag * NS + (1n << 31n)) >> 32n;
  return neg ? -ns : ns;
}

/** The instant `ts` names that lies closest to `pivotNs` (both within ±68 years). */
export function ntpToUnixNs(ts: bigint, pivotNs: bigint): bigint {
  return pivotNs + fixedToNs(ntpDiff(ts, unixNsToNtp(pivotNs)));
}

/** NTP's 32-bit short format (16.16 seconds: root delay, root dispersion) -> seconds. */
export function shortToSeconds(v: number): number {
  return v / 65536;
}

/** Unix ns -> google.protobuf.Timestamp's fields (nanos always 0..999999999). */
export function toProtoTimestamp(ns: bigint): { seconds: number; nanos: number } {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return { seconds: Number(sec), nanos: Number(nsec) };
}
