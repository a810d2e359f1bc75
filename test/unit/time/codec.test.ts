import { describe, expect, test } from "bun:test";
import { decodePacket, encodePacket, encodeRequest, HEADER_SIZE, randomNonce, refIdText, type NtpPacket } from "../../../src/time/packet.ts";
import { fixedToNs, ntpDiff, ntpToUnixNs, shortToSeconds, toProtoTimestamp, unixNsToNtp } from "../../../src/time/timestamp.ts";
import { measure } from "../../../src/time/check.ts";

const S = 1_000_000_000n;
/** 2036-02-07T06:28:16Z: NTP seconds wrap from 2^32-1 to 0 (era 0 -> era 1). */
const ERA1_UNIX_S = (1n << 32n) - 2_208_988_800n;

describe("NTP timestamps", () => {
  test("the Unix epoch is NTP 0x83AA7E80.00000000", () => {
    expect(unixNsToNtp(0n)).toBe(0x83aa7e80n << 32n);
    expect(ntpToUnixNs(0x83aa7e80n << 32n, 0n)).toBe(0n);
  });

  test("fractions: half a second is 0x80000000, and ns survive a round trip within 1 ns", () => {
    expect(unixNsToNtp(S / 2n) & 0xffff_ffffn).toBe(0x8000_0000n);
    for (const ns of [1n, 123_456_789n, 999_999_999n]) {
      const back = ntpToUnixNs(unixNsToNtp(1_796_083_200n * S + ns), 1_796_083_200n * S);
      expect(Number(back - 1_796_083_200n * S - ns)).toBeWithin(-1, 2);
    }
  });

  test("era rollover 2036: a timestamp just after the wrap resolves after 2036, not to 1900", () => {
    const after = (ERA1_UNIX_S + 5n) * S; // 2036-02-07T06:28:21Z
    const ts = unixNsToNtp(after);
    expect(ts >> 32n).toBe(5n); // the seconds field wrapped
    expect(ntpToUnixNs(ts, (ERA1_UNIX_S - 86_400n) * S)).toBe(after); // pivot the day before
    expect(ntpDiff(ts, unixNsToNtp((ERA1_UNIX_S - 5n) * S))).toBe(10n << 32n); // 10 s across the wrap
  });

  test("signed modular differences and 32.32 -> ns", () => {
    expect(ntpDiff(0n, 1n << 32n)).toBe(-(1n << 32n));
    expect(fixedToNs(-(1n << 31n))).toBe(-500_000_000n);
    expect(shortToSeconds(0x0001_8000)).toBe(1.5);
  });

  test("protobuf Timestamps: nanos stay in 0..1e9 before 1970 too", () => {
    expect(toProtoTimestamp(1_796_083_200_123_456_789n)).toEqual({ seconds: 1_796_083_200, nanos: 123_456_789 });
    expect(toProtoTimestamp(-1n)).toEqual({ seconds: -1, nanos: 999_999_999 });
  });
});

describe("offset and delay from the four timestamps", () => {
  const base = 1_796_083_200n * S;
  const ms = (n: number) => BigInt(n) * 1_000_000n;

  test("server 1 s ahead, 10 ms out, 2 ms processing, 12 ms back: offset 999 ms, delay 22 ms", () => {
    // T1 = 0, T2 = 1.010 (server clock), T3 = 1.012, T4 = 0.024 (our clock)
    const m = measure(base, unixNsToNtp(base + ms(1010)), unixNsToNtp(base + ms(1012)), base + ms(24));
    expect(Number(m.offsetNs) / 1e6).toBeCloseTo(999, 5);
    expect(Number(m.delayNs) / 1e6).toBeCloseTo(22, 5);
    expect(Number(m.remoteNs - base) / 1e6).toBeCloseTo(1012, 5);
  });

  test("symmetric path, clocks equal: offset 0", () => {
    const m = measure(base, unixNsToNtp(base + ms(5)), unixNsToNtp(base + ms(6)), base + ms(11));
    expect(Math.abs(Number(m.offsetNs))).toBeLessThan(2);
    expect(Number(m.delayNs) / 1e6).toBeCloseTo(10, 5);
  });

  test("across the 2036 wrap: our clock before it, the server's after", () => {
    const t1 = (ERA1_UNIX_S - 1n) * S;
    const m = measure(t1, unixNsToNtp(t1 + 3n * S), unixNsToNtp(t1 + 3n * S), t1 + ms(10));
    expect(Number(m.offsetNs) / 1e6).toBeCloseTo(2995, 3);
  });

  test("an unset clock reading 1970 against a 2026 server: offset ~57 years (pivot on the floor)", () => {
    const t2 = unixNsToNtp(base);
    const m = measure(0n, t2, t2, ms(2), 1_735_689_600n * S);
    expect(m.remoteNs).toBe(base);
    expect(m.offsetNs).toBe(base - ms(1)); // ((base - 0) + (base - 2 ms)) / 2
  });
});

describe("packets", () => {
  test("a request is mode 3, version 4, 48 bytes, everything zero but the nonce", () => {
    const nonce = 0x0123_4567_89ab_cdefn;
    const req = encodeRequest(nonce);
    expect(req.length).toBe(HEADER_SIZE);
    expect(req[0]).toBe(0x23); // LI 0, VN 4, mode 3
    expect([...req.subarray(1, 40)].every((b) => b === 0)).toBe(true);
    expect(new DataView(req.buffer).getBigUint64(40)).toBe(nonce);
  });

  test("decode(encode(p)) is p; short datagrams are not packets", () => {
    const p: NtpPacket = {
      leap: 1,
      version: 4,
      mode: 4,
      stratum: 3,
      poll: 6,
      precision: -23,
      rootDelay: 0.25,
      rootDispersion: 1.5,
      refId: 0xc0000201,
      referenceTs: 1n,
      originTs: 2n,
      receiveTs: 3n,
      transmitTs: 0xffff_ffff_ffff_ffffn,
    };
    expect(decodePacket(encodePacket(p))).toEqual(p);
    expect(decodePacket(new Uint8Array(47))).toBeUndefined();
    // Extension fields after the header are ignored.
    const long = new Uint8Array(68);
    long.set(encodePacket(p));
    expect(decodePacket(long)).toEqual(p);
  });

  test("kiss codes read as ASCII", () => {
    expect(refIdText(0x44454e59)).toBe("DENY");
    expect(refIdText(0x47505300)).toBe("GPS");
  });

  test("nonces are random and never zero", () => {
    const a = randomNonce();
    expect(a).not.toBe(0n);
    expect(randomNonce()).not.toBe(a);
  });
});
