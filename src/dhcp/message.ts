// The BOOTP/DHCP message (RFC 2131 §2, RFC 2132 §2–3, RFC 3396): the fixed
// 236-byte header, the magic cookie, and the options area as raw bytes per
// option code. Decoding never throws: a malformed packet comes back as a
// reason, because it arrives from the network and PID 1 must not fall over it.
import { ipBytes, ipFromBytes } from "./ipv4.ts";

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
const HEADER_LEN = 236;
/** RFC 1542 §3.2.1: some relays drop BOOTP messages shorter than 300 bytes. */
const MIN_LEN = 300;

export const Opt = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dns: 6,
  hostname: 12,
  domainName: 15,
  mtu: 26,
  broadcast: 28,
  requestedIp: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  paramRequest: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  clientId: 61,
  domainSearch: 119,
  classlessRoutes: 121,
  end: 255,
} as const;

export const MessageType = { discover: 1, offer: 2, request: 3, decline: 4, ack: 5, nak: 6, release: 7, inform: 8 } as const;
export type MessageTypeName = keyof typeof MessageType;

export function messageTypeName(t: number | undefined): MessageTypeName | undefined {
  for (const [k, v] of Object.entries(MessageType)) if (v === t) return k as MessageTypeName;
  return undefined;
}

export interface DhcpMessage {
  op: number;
  htype: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client hardware address, hlen bytes. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /** Each option's data; an option split over several instances (RFC 3396) is concatenated. */
  options: Map<number, Buffer>;
}

export type Decoded = { ok: true; msg: DhcpMessage } | { ok: false; reason: string };

/** Parses one options area into `into`, concatenating repeats; returns an error reason or undefined. */
function parseOptions(area: Buffer, where: string, into: Map<number, Buffer>): string | undefined {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === Opt.pad) {
      i++;
      continue;
    }
    if (code === Opt.end) return undefined;
    if (i + 1 >= area.length) return `truncated option ${code} in ${where}: no length byte`;
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return `truncated option ${code} in ${where}: length ${len}, ${area.length - i - 2} bytes left`;
    const data = area.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, data]) : Buffer.from(data));
    i += 2 + len;
  }
  // Running off the end without an End option: tolerated (several servers omit it), but only at an option boundary.
  return undefined;
}

function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString("latin1");
}

export function decodeMessage(buf: Buffer): Decoded {
  if (buf.length < HEADER_LEN + 4) return { ok: false, reason: `truncated: ${buf.length} bytes, a DHCP message has at least ${HEADER_LEN + 4}` };
  const cookie = buf.readUInt32BE(HEADER_LEN);
  if (cookie !== MAGIC_COOKIE) return { ok: false, reason: `bad magic cookie 0x${cookie.toString(16).padStart(8, "0")}` };
  const hlen = buf[2]!;
  if (hlen > 16) return { ok: false, reason: `hlen ${hlen} exceeds the 16-byte chaddr field` };
  const options = new Map<number, Buffer>();
  const err = parseOptions(buf.subarray(HEADER_LEN + 4), "options", options);
  if (err) return { ok: false, reason: err };
  // RFC 2131 §4.1 / RFC 3396: with option 52 the file, then the sname field carry options too.
  const overload = options.get(Opt.overload);
  let sname = cString(buf.subarray(44, 108));
  let file = cString(buf.subarray(108, 236));
  if (overload) {
    const v = overload[0];
    if (overload.length !== 1 || v === undefined || v < 1 || v > 3) return { ok: false, reason: `bad option overload value ${overload.toString("hex")}` };
    options.delete(Opt.overload);
    if (v & 1) {
      const e = parseOptions(buf.subarray(108, 236), "file", options);
      if (e) return { ok: false, reason: e };
      file = "";
    }
    if (v & 2) {
      const e = parseOptions(buf.subarray(44, 108), "sname", options);
      if (e) return { ok: false, reason: e };
      sname = "";
    }
  }
  return {
    ok: true,
    msg: {
      op: buf[0]!,
      htype: buf[1]!,
      hops: buf[3]!,
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: ipFromBytes(buf, 12),
      yiaddr: ipFromBytes(buf, 16),
      siaddr: ipFromBytes(buf, 20),
      giaddr: ipFromBytes(buf, 24),
      chaddr: Buffer.from(buf.subarray(28, 28 + hlen)),
      sname,
      file,
      options,
    },
  };
}

/** A message with every field defaulted, for building requests (and test replies). */
export function newMessage(m: Partial<DhcpMessage> & Pick<DhcpMessage, "op" | "xid" | "chaddr">): DhcpMessage {
  return {
    htype: 1,
    hops: 0,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    sname: "",
    file: "",
    options: new Map(),
    ...m,
  };
}

/** Encodes a message; options go in insertion order, longer than 255 bytes split (RFC 3396), never overloaded. */
export function encodeMessage(m: DhcpMessage): Buffer {
  const head = Buffer.alloc(HEADER_LEN + 4);
  head[0] = m.op;
  head[1] = m.htype;
  head[2] = m.chaddr.length;
  head[3] = m.hops;
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(m.secs & 0xffff, 8);
  head.writeUInt16BE(m.flags & 0xffff, 10);
  ipBytes(m.ciaddr).copy(head, 12);
  ipBytes(m.yiaddr).copy(head, 16);
  ipBytes(m.siaddr).copy(head, 20);
  ipBytes(m.giaddr).copy(head, 24);
  m.chaddr.copy(head, 28, 0, Math.min(16, m.chaddr.length));
  head.write(m.sname.slice(0, 63), 44, "latin1");
  head.write(m.file.slice(0, 127), 108, "latin1");
  head.writeUInt32BE(MAGIC_COOKIE, HEADER_LEN);
  const parts: Buffer[] = [head];
  for (const [code, data] of m.options) {
    if (code === Opt.pad || code === Opt.end) continue;
    if (data.length === 0) parts.push(Buffer.from([code, 0]));
    for (let off = 0; off < data.length; off += 255) {
      const chunk = data.subarray(off, off + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  parts.push(Buffer.from([Opt.end]));
  const out = Buffer.concat(parts);
  return out.length >= MIN_LEN ? out : Buffer.concat([out, Buffer.alloc(MIN_LEN - out.length)]);
}
