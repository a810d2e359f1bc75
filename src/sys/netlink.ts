// rtnetlink plumbing for every netlink call (net.ts, net-del.ts, net6.ts, net-dump.ts): one
// request with an ack, and one dump read to NLMSG_DONE. Each call opens its own
// NETLINK_ROUTE socket; the kernel answers both synchronously from its tables,
// so the blocking recv never waits on the network.
import { check, errno, libc, ptr, T } from "./ffi.ts";
import { SysError } from "./errno.ts";

const sym = libc({
  socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
  close: { args: [T.i32], returns: T.i32 },
  send: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
  recv: { args: [T.i32, T.ptr, T.u64, T.i32], returns: T.i64_fast },
});

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_CREATE = 0x400;

/** An rtattr: u16 length, u16 type, payload, padded to 4 bytes. */
export function rtattr(type: number, payload: Uint8Array): Buffer {
  const len = 4 + payload.length;
  const buf = Buffer.alloc((len + 3) & ~3);
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  buf.set(payload, 4);
  return buf;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

/** The attributes after a fixed header of `headLen` bytes: type -> payload (the last one wins). */
export function parseAttrs(msg: Buffer, headLen: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = headLen; off + 4 <= msg.length; ) {
    const len = msg.readUInt16LE(off);
    if (len < 4 || off + len > msg.length) break;
    out.set(msg.readUInt16LE(off + 2) & 0x3fff, msg.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

let seq = 0x20000000;

function header(type: number, flags: number, body: Buffer): { msg: Buffer; seq: number } {
  const msg = Buffer.alloc(16 + body.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(NLM_F_REQUEST | flags, 6);
  const mySeq = ++seq;
  msg.writeUInt32LE(mySeq, 8);
  body.copy(msg, 16);
  return { msg, seq: mySeq };
}

function withSocket<R>(fn: (fd: number) => R): R {
  const s = sym();
  const fd = check(s.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "socket(AF_NETLINK)");
  try {
    return fn(fd);
  } finally {
    s.close(fd);
  }
}

/** One request with NLM_F_ACK; returns the kernel's errno (0: done). */
export function netlinkAck(type: number, flags: number, body: Buffer, what: string): number {
  const { msg, seq: mySeq } = header(type, NLM_F_ACK | flags, body);
  return withSocket((fd) => {
    const s = sym();
    if (s.send(fd, ptr(msg), msg.length, 0) < 0) throw new SysError(`send(${what})`, errno());
    const reply = Buffer.alloc(8192);
    for (;;) {
      const n = Number(s.recv(fd, ptr(reply), reply.length, 0));
      if (n < 0) throw new SysError(`recv(${what})`, errno());
      for (let off = 0; off + 16 <= n; ) {
        const len = reply.readUInt32LE(off);
        if (len < 16) break;
        if (reply.readUInt16LE(off + 4) === NLMSG_ERROR && reply.readUInt32LE(off + 8) === mySeq) return -reply.readInt32LE(off + 16);
        off += (len + 3) & ~3;
      }
    }
  });
}

/** A dump request: every message of type `replyType`, body only (the nlmsghdr stripped). */
export function netlinkDump(type: number, body: Buffer, replyType: number, what: string): Buffer[] {
  const { msg, seq: mySeq } = header(type, NLM_F_DUMP, body);
  return withSocket((fd) => {
    const s = sym();
    if (s.send(fd, ptr(msg), msg.length, 0) < 0) throw new SysError(`send(${what})`, errno());
    const out: Buffer[] = [];
    const reply = Buffer.alloc(65536);
    for (;;) {
      const n = Number(s.recv(fd, ptr(reply), reply.length, 0));
      if (n < 0) throw new SysError(`recv(${what})`, errno());
      for (let off = 0; off + 16 <= n; ) {
        const len = reply.readUInt32LE(off);
        if (len < 16 || off + len > n) break;
        const t = reply.readUInt16LE(off + 4);
        if (reply.readUInt32LE(off + 8) === mySeq) {
          if (t === NLMSG_DONE) return out;
          if (t === NLMSG_ERROR) {
            const err = -reply.readInt32LE(off + 16);
            if (err !== 0) throw new SysError(what, err);
          } else if (t === replyType) out.push(Buffer.from(reply.subarray(off + 16, off + len)));
        }
        off += (len + 3) & ~3;
      }
    }
  });
}
