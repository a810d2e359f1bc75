// The gRPC-over-HTTP/2 wire pieces the machine API server needs, from the
// protocol description (grpc/doc/PROTOCOL-HTTP2.md): the 5-byte message
// prefix, the grpc-timeout header, and grpc-message's percent-encoding.
import { Code, StatusError } from "./status.ts";

/** One length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the bytes. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/**
 * Splits a request's DATA bytes into messages. A message longer than
 * maxBytes is refused from its prefix alone (its body is never buffered); a
 * compressed one is refused because this server offers only identity: with a
 * grpc-encoding the client chose, UNIMPLEMENTED (as the protocol says for an
 * unsupported algorithm), without one INTERNAL (the flag contradicts the headers).
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes needed before anything can be parsed: a prefix, then the whole message (so a big one is joined once). */
  private need = 5;

  constructor(
    private readonly maxBytes: number,
    private readonly encoding: string | undefined,
  ) {}

  /** Bytes held that do not yet make a whole message. */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): Uint8Array[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size < this.need) return [];
    const out: Uint8Array[] = [];
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    for (;;) {
      if (buf.length < 5) {
        this.need = 5;
        break;
      }
      const len = this.check(buf);
      if (buf.length < 5 + len) {
        this.need = 5 + len;
        break;
      }
      out.push(buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
    this.chunks = buf.length ? [buf] : [];
    this.size = buf.length;
    return out;
  }

  /** The message length in a prefix, or the error that refuses it. */
  private check(buf: Buffer): number {
    const flag = buf[0]!;
    if (flag !== 0) {
      if (flag === 1 && this.encoding && this.encoding !== "identity")
        throw new StatusError(Code.UNIMPLEMENTED, `message compressed with "${this.encoding}": this server accepts only identity`);
      throw new StatusError(Code.INTERNAL, flag === 1 ? "compressed message without a grpc-encoding" : `bad message flag ${flag}`);
    }
    const len = buf.readUInt32BE(1);
    if (len > this.maxBytes) throw new StatusError(Code.RESOURCE_EXHAUSTED, `received message larger than max (${len} vs. ${this.maxBytes})`);
    return len;
  }
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout ("100m", "5S", "1H": at most 8 digits and a unit) in ms; undefined when absent, NaN when malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return Number.NaN;
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/**
 * grpc-message's encoding: bytes outside printable ASCII (0x20–0x7E) and "%"
 * itself as %XX of the UTF-8 bytes; the rest as is, so plain messages cost nothing.
 */
export function percentEncode(message: string): string {
  if (!/[^\x20-\x24\x26-\x7e]/.test(message)) return message;
  let out = "";
  for (const b of Buffer.from(message))
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/** The inverse, for clients; malformed escapes stay as they are (the protocol asks receivers not to fail on them). */
export function percentDecode(s: string): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!));
  }
  return Buffer.from(bytes).toString();
}

/**
 * A gRPC request's header fields (PROTOCOL-HTTP2.md "Requests") for our own
 * HTTP/2 clients: the pseudo-headers, the content type, `te: trailers`, the
 * deadline as grpc-timeout, then the call's metadata (lower-case names).
 */
export function grpcRequestFields(
  path: string,
  userAgent: string,
  metadata: Readonly<Record<string, string | readonly string[]>> = {},
  timeoutMs?: number,
): [string, string][] {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc+proto"],
    ["te", "trailers"],
    ["user-agent", userAgent],
  ];
  if (timeoutMs !== undefined) fields.push(["grpc-timeout", `${Math.max(1, Math.ceil(timeoutMs))}m`]);
  // A list goes out as one header field per value, as gRPC metadata does.
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v === "string") fields.push([k, v]);
    else for (const one of v) fields.push([k, one]);
  }
  return fields;
}
