// HTTP/2's frame layer (RFC 9113 sections 4 and 6): the numbers every frame
// carries and the builders for the frames our server sends. The server
// connection (connection.ts) and the content-upload client
// (src/containerd/h2upload.ts) share them.

/** The client connection preface (RFC 9113 section 3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FRAME_HEADER_BYTES = 9;

export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;

export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

/** Error codes (RFC 9113 section 7). */
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

/** The window every stream and the connection start with (RFC 9113 section 6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** The frame size every peer must accept (RFC 9113 section 4.2). */
export const DEFAULT_MAX_FRAME = 16_384;
/** The largest window and window increment (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;

export function writeFrameHeader(out: Uint8Array, at: number, length: number, type: number, flags: number, stream: number): void {
  out[at] = (length >>> 16) & 0xff;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out[at + 5] = (stream >>> 24) & 0x7f;
  out[at + 6] = (stream >>> 16) & 0xff;
  out[at + 7] = (stream >>> 8) & 0xff;
  out[at + 8] = stream & 0xff;
}

/** One frame, header and payload in one buffer. */
export function frameOf(type: number, flags: number, stream: number, payload?: Uint8Array): Buffer {
  const n = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
  writeFrameHeader(out, 0, n, type, flags, stream);
  if (payload) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function settingsFrame(entries: readonly (readonly [number, number])[]): Buffer {
  const p = Buffer.allocUnsafe(6 * entries.length);
  for (let i = 0; i < entries.length; i++) {
    p.writeUInt16BE(entries[i]![0], i * 6);
    p.writeUInt32BE(entries[i]![1], i * 6 + 2);
  }
  return frameOf(SETTINGS, 0, 0, p);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, WINDOW_UPDATE, 0, stream);
  out.writeUInt32BE(increment & MAX_WINDOW, FRAME_HEADER_BYTES);
  return out;
}

export function rstStreamFrame(stream: number, code: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4);
  writeFrameHeader(out, 0, 4, RST_STREAM, 0, stream);
  out.writeUInt32BE(code, FRAME_HEADER_BYTES);
  return out;
}

export function goawayFrame(lastStream: number, code: number, debug = ""): Buffer {
  const text = Buffer.from(debug, "utf8");
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 8 + text.length);
  writeFrameHeader(out, 0, 8 + text.length, GOAWAY, 0, 0);
  out.writeUInt32BE(lastStream & MAX_WINDOW, FRAME_HEADER_BYTES);
  out.writeUInt32BE(code, FRAME_HEADER_BYTES + 4);
  out.set(text, FRAME_HEADER_BYTES + 8);
  return out;
}

/** A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE (a FRAME_SIZE_ERROR, RFC 9113 section 4.2). */
export class FrameTooLong extends Error {
  override name = "FrameTooLong";
}

/**
 * Calls onFrame for each whole frame in `buf` from `at`, until one is
 * incomplete or onFrame returns false; returns where reading stopped (the
 * caller keeps the rest for the next bytes). Throws FrameTooLong for a
 * frame longer than maxLength, before waiting for its payload.
 */
export function eachFrame(
  buf: Buffer,
  at: number,
  maxLength: number,
  onFrame: (type: number, flags: number, stream: number, payload: Buffer) => boolean,
): number {
  while (buf.length - at >= FRAME_HEADER_BYTES) {
    const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
    if (length > maxLength) throw new FrameTooLong(`frame of ${length} bytes is over the ${maxLength} accepted`);
    if (buf.length - at < FRAME_HEADER_BYTES + length) break;
    const payload = buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
    const type = buf[at + 3]!;
    const flags = buf[at + 4]!;
    const stream = buf.readUInt32BE(at + 5) & MAX_WINDOW;
    at += FRAME_HEADER_BYTES + length;
    if (!onFrame(type, flags, stream, payload)) break;
  }
  return at;
}

/**
 * A header block as HEADERS and, past the peer's frame size, CONTINUATION
 * frames, laid out in one buffer (RFC 9113 section 6.10).
 */
export function headerFrames(stream: number, block: Uint8Array, endStream: boolean, maxFrame: number): Buffer {
  const frames = Math.max(1, Math.ceil(block.length / maxFrame));
  const out = Buffer.allocUnsafe(frames * FRAME_HEADER_BYTES + block.length);
  let at = 0;
  for (let i = 0, from = 0; i < frames; i++) {
    const n = Math.min(maxFrame, block.length - from);
    const last = i === frames - 1;
    const flags = (last ? END_HEADERS : 0) | (i === 0 && endStream ? END_STREAM : 0);
    writeFrameHeader(out, at, n, i === 0 ? HEADERS : CONTINUATION, flags, stream);
    out.set(block.subarray(from, from + n), at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES + n;
    from += n;
  }
  return out;
}
