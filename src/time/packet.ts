// The NTPv4 packet header (RFC 5905 §7.3; SNTP, RFC 4330 §4): 48 bytes, big
// endian. We send client requests and read server replies; extension fields
// and MACs after the header are ignored (we use neither NTS nor symmetric keys).

export const NTP_PORT = 123;
export const HEADER_SIZE = 48;
export const VERSION = 4;

export const MODE_CLIENT = 3;
export const MODE_SERVER = 4;
export const LEAP_UNSYNCHRONIZED = 3;
/** Stratum 0 marks a kiss-o'-death packet; 16 means "not synchronised". */
export const STRATUM_KISS = 0;
export const STRATUM_UNSYNCHRONIZED = 16;

export interface NtpPacket {
  /** Leap indicator: 0 none, 1 +1 s, 2 -1 s, 3 clock unsynchronised. */
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds. */
  poll: number;
  /** log2 seconds (signed). */
  precision: number;
  /** Round trip to the primary reference, seconds (16.16 on the wire). */
  rootDelay: number;
  /** Dispersion to the primary reference, seconds (16.16 on the wire). */
  rootDispersion: number;
  /** Reference ID: the upstream's IPv4 address, a refclock name, or a kiss code. */
  refId: number;
  referenceTs: bigint;
  originTs: bigint;
  receiveTs: bigint;
  transmitTs: bigint;
}

/** The reference ID read as four ASCII letters (a kiss code like "DENY", a refclock like "GPS"). */
export function refIdText(refId: number): string {
  let s = "";
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (refId >>> shift) & 0xff;
    if (c === 0) break;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s;
}

/** The header of a datagram, or undefined when it is too short to be one. */
export function decodePacket(data: Uint8Array): NtpPacket | undefined {
  if (data.length < HEADER_SIZE) return undefined;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const b0 = v.getUint8(0);
  return {
    leap: b0 >> 6,
    version: (b0 >> 3) & 7,
    mode: b0 & 7,
    stratum: v.getUint8(1),
    poll: v.getInt8(2),
    precision: v.getInt8(3),
    rootDelay: v.getUint32(4) / 65536,
    rootDispersion: v.getUint32(8) / 65536,
    refId: v.getUint32(12),
    referenceTs: v.getBigUint64(16),
    originTs: v.getBigUint64(24),
    receiveTs: v.getBigUint64(32),
    transmitTs: v.getBigUint64(40),
  };
}

/** Any header (used by the tests to build server replies). */
export function encodePacket(p: NtpPacket): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const v = new DataView(out.buffer);
  v.setUint8(0, ((p.leap & 3) << 6) | ((p.version & 7) << 3) | (p.mode & 7));
  v.setUint8(1, p.stratum);
  v.setInt8(2, p.poll);
  v.setInt8(3, p.precision);
  v.setUint32(4, Math.round(p.rootDelay * 65536) >>> 0);
  v.setUint32(8, Math.round(p.rootDispersion * 65536) >>> 0);
  v.setUint32(12, p.refId >>> 0);
  v.setBigUint64(16, p.referenceTs);
  v.setBigUint64(24, p.originTs);
  v.setBigUint64(32, p.receiveTs);
  v.setBigUint64(40, p.transmitTs);
  return out;
}

/**
 * A client request (mode 3, version 4). Every other field is zero, as RFC 4330
 * §5 allows and draft-ietf-ntp-data-minimization recommends: the server needs
 * nothing but the transmit timestamp, which it echoes back as the origin. We put
 * a random 64-bit nonce there instead of our clock reading (the reading stays
 * local as T1): an off-path attacker cannot guess it to forge a reply, and the
 * request does not reveal our clock.
 */
export function encodeRequest(nonce: bigint): Uint8Array {
  return encodePacket({
    leap: 0,
    version: VERSION,
    mode: MODE_CLIENT,
    stratum: 0,
    poll: 0,
    precision: 0,
    rootDelay: 0,
    rootDispersion: 0,
    refId: 0,
    referenceTs: 0n,
    originTs: 0n,
    receiveTs: 0n,
    transmitTs: nonce,
  });
}

/** A non-zero random 64-bit nonce for encodeRequest. */
export function randomNonce(): bigint {
  const b = new BigUint64Array(1);
  do crypto.getRandomValues(b);
  while (b[0] === 0n);
  return b[0]!;
}
