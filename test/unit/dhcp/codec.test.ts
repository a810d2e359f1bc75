// The BOOTP/DHCP codec and the option value codecs: round trips, the RFC 3442
// and RFC 3397 example encodings, option overload, long options, and every
// malformed form rejected with a reason (never an exception).
import { describe, expect, test } from "bun:test";
import { decodeMessage, encodeMessage, newMessage, Opt, BOOTREQUEST, MAGIC_COOKIE } from "../../../src/dhcp/message.ts";
import { decodeClasslessRoutes, decodeDomainSearch, encodeClasslessRoutes, encodeDomainSearch } from "../../../src/dhcp/options.ts";
import { MAC } from "./fakes.ts";

function sample() {
  const m = newMessage({ op: BOOTREQUEST, xid: 0xdeadbeef, chaddr: MAC, secs: 7, flags: 0x8000, ciaddr: "10.1.2.3", sname: "srv", file: "boot.img" });
  m.options.set(Opt.messageType, Buffer.from([3]));
  m.options.set(Opt.requestedIp, Buffer.from([10, 1, 2, 3]));
  m.options.set(Opt.hostname, Buffer.from("node-a"));
  return m;
}

/** A raw message: header, cookie, then `opts` bytes verbatim. */
function raw(opts: number[], patch?: (b: Buffer) => void): Buffer {
  const head = Buffer.alloc(240);
  head[0] = 2;
  head[1] = 1;
  head[2] = 6;
  head.writeUInt32BE(0x01020304, 4);
  MAC.copy(head, 28);
  head.writeUInt32BE(MAGIC_COOKIE, 236);
  patch?.(head);
  return Buffer.concat([head, Buffer.from(opts)]);
}

describe("message codec", () => {
  test("round trip keeps every header field and option", () => {
    const m = sample();
    const b = encodeMessage(m);
    expect(b.length).toBeGreaterThanOrEqual(300);
    expect(b.readUInt32BE(236)).toBe(MAGIC_COOKIE);
    const d = decodeMessage(b);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg).toEqual(m);
  });

  test("an option longer than 255 bytes is split on encode and concatenated on decode (RFC 3396)", () => {
    const m = sample();
    const long = Buffer.alloc(600, 0xab);
    m.options.set(Opt.classlessRoutes, long);
    const b = encodeMessage(m);
    const d = decodeMessage(b);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.options.get(Opt.classlessRoutes)).toEqual(long);
  });

  test("option overload (52): options in file and sname are read, in the order options, file, sname", () => {
    const b = raw([52, 1, 3, 53, 1, 2, 255], (h) => {
      Buffer.from([54, 4, 10, 0, 0, 1, 15, 2, 0x61, 0x62, 255]).copy(h, 108); // file
      Buffer.from([15, 2, 0x63, 0x64, 255]).copy(h, 44); // sname
    });
    const d = decodeMessage(b);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.options.get(Opt.messageType)).toEqual(Buffer.from([2]));
    expect(d.msg.options.get(Opt.serverId)).toEqual(Buffer.from([10, 0, 0, 1]));
    expect(d.msg.options.get(Opt.domainName)?.toString()).toBe("abcd");
    expect(d.msg.file).toBe("");
    expect(d.msg.sname).toBe("");
  });

  test("without overload, file and sname are strings and their bytes are not options", () => {
    const b = raw([53, 1, 2, 255], (h) => h.write("pxelinux.0", 108));
    const d = decodeMessage(b);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.file).toBe("pxelinux.0");
    expect(d.msg.options.size).toBe(1);
  });

  test("pad options are skipped; a missing End at an option boundary is tolerated", () => {
    const d = decodeMessage(raw([0, 0, 53, 1, 5, 0]));
    expect(d.ok && d.msg.options.get(53)).toEqual(Buffer.from([5]));
  });

  const bad: [string, Buffer, RegExp][] = [
    ["empty", Buffer.alloc(0), /truncated: 0 bytes/],
    ["header only, no cookie", Buffer.alloc(236), /truncated: 236 bytes/],
    ["wrong magic cookie", raw([53, 1, 2, 255], (h) => h.writeUInt32BE(0x63825364, 236)), /bad magic cookie 0x63825364/],
    ["option without its length byte", raw([53]), /truncated option 53.*no length byte/],
    ["option longer than the packet", raw([53, 1, 2, 6, 8, 1, 2, 3, 4]), /truncated option 6 in options: length 8, 4 bytes left/],
    ["overload value out of range", raw([52, 1, 4, 255]), /bad option overload value 04/],
    ["overload with a truncated option in file", raw([52, 1, 1, 255], (h) => Buffer.from([3, 200, 1]).copy(h, 108)), /truncated option 3 in file/],
    ["hlen beyond chaddr", raw([255], (h) => (h[2] = 17)), /hlen 17/],
  ];
  for (const [name, buf, reason] of bad) {
    test(`rejected with a reason: ${name}`, () => {
      const d = decodeMessage(buf);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(reason);
    });
  }

  test("random bytes never throw", () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 3000; i++) {
      const b = raw(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
      expect(() => decodeMessage(b)).not.toThrow();
      expect(() => decodeMessage(b.subarray(0, Math.floor(rnd() * b.length)))).not.toThrow();
    }
  });
});

describe("option 121 classless static routes (RFC 3442)", () => {
  // The RFC's encoding table (§Classless Route Option Format), each with a router 10.0.0.1.
  const vectors: [string, number, number[]][] = [
    ["0.0.0.0", 0, [0]],
    ["10.0.0.0", 8, [8, 10]],
    ["10.17.0.0", 16, [16, 10, 17]],
    ["10.27.129.0", 24, [24, 10, 27, 129]],
    ["10.229.0.128", 25, [25, 10, 229, 0, 128]],
    ["10.198.122.47", 32, [32, 10, 198, 122, 47]],
  ];
  for (const [dst, prefix, bytes] of vectors) {
    test(`${dst}/${prefix} encodes as ${bytes.join(".")}`, () => {
      const enc = encodeClasslessRoutes([{ dst, prefix, gateway: "10.0.0.1" }]);
      expect([...enc]).toEqual([...bytes, 10, 0, 0, 1]);
      expect(decodeClasslessRoutes(enc)).toEqual([{ dst, prefix, gateway: "10.0.0.1" }]);
    });
  }

  test("several routes in one option; on-link gateway 0.0.0.0 kept", () => {
    const routes = [
      { dst: "10.99.0.0", prefix: 16, gateway: "0.0.0.0" },
      { dst: "0.0.0.0", prefix: 0, gateway: "10.99.0.1" },
    ];
    expect(decodeClasslessRoutes(encodeClasslessRoutes(routes))).toEqual(routes);
  });

  test("host bits beyond the width are masked off", () => {
    expect(decodeClasslessRoutes(Buffer.from([12, 10, 0xff, 1, 2, 3, 4]))).toEqual([{ dst: "10.240.0.0", prefix: 12, gateway: "1.2.3.4" }]);
  });

  test("malformed: width 33, truncated destination, truncated router, empty", () => {
    expect(decodeClasslessRoutes(Buffer.from([33, 1, 2, 3, 4, 5, 6, 7, 8]))).toBeUndefined();
    expect(decodeClasslessRoutes(Buffer.from([24, 10, 0]))).toBeUndefined();
    expect(decodeClasslessRoutes(Buffer.from([8, 10, 1, 2, 3]))).toBeUndefined();
    expect(decodeClasslessRoutes(Buffer.alloc(0))).toBeUndefined();
  });
});

describe("option 119 domain search (RFC 3397)", () => {
  // RFC 3397 §3's example: "eng.apple.com." and "marketing.apple.com.", the second compressed.
  const rfc = Buffer.from([
    3,
    ..."eng".split("").map((c) => c.charCodeAt(0)),
    5,
    ...Buffer.from("apple"),
    3,
    ...Buffer.from("com"),
    0,
    9,
    ...Buffer.from("marketing"),
    0xc0,
    0x04,
  ]);

  test("the RFC example encodes exactly and decodes back", () => {
    expect(encodeDomainSearch(["eng.apple.com", "marketing.apple.com"])).toEqual(rfc);
    expect(decodeDomainSearch(rfc)).toEqual(["eng.apple.com", "marketing.apple.com"]);
  });

  test("split over two option 119 instances, pointers count in the concatenated data", () => {
    const head = Buffer.alloc(240);
    head[0] = 2;
    head[2] = 6;
    head.writeUInt32BE(MAGIC_COOKIE, 236);
    const a = rfc.subarray(0, 10);
    const b = rfc.subarray(10);
    const d = decodeMessage(Buffer.concat([head, Buffer.from([119, a.length]), a, Buffer.from([119, b.length]), b, Buffer.from([255])]));
    if (!d.ok) throw new Error(d.reason);
    expect(decodeDomainSearch(d.msg.options.get(119)!)).toEqual(["eng.apple.com", "marketing.apple.com"]);
  });

  test("round trip of names sharing and not sharing suffixes", () => {
    const names = ["example.test", "corp.example.test", "other.net", "a.b.other.net"];
    const enc = encodeDomainSearch(names);
    expect(decodeDomainSearch(enc)).toEqual(names);
    expect(enc.length).toBeLessThan(names.join("").length + names.length * 2);
  });

  test("malformed: forward pointer, self pointer, truncated label, truncated pointer, reserved label bits", () => {
    expect(decodeDomainSearch(Buffer.from([0xc0, 0x05, 0, 0, 0, 1, 0x61, 0]))).toBeUndefined();
    expect(decodeDomainSearch(Buffer.from([1, 0x61, 0xc0, 0x02]))).toBeUndefined();
    expect(decodeDomainSearch(Buffer.from([5, 0x61, 0x62]))).toBeUndefined();
    expect(decodeDomainSearch(Buffer.from([1, 0x61, 0xc0]))).toBeUndefined();
    expect(decodeDomainSearch(Buffer.from([0x41, 0x61, 0]))).toBeUndefined();
    expect(decodeDomainSearch(Buffer.from([0]))).toBeUndefined();
  });
});
