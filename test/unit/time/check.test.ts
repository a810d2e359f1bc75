// Every sanity rejection of checkReply, each against an otherwise good answer.
import { describe, expect, test } from "bun:test";
import { checkReply, DEFAULT_LIMITS, NOT_OUR_ANSWER, type Exchange, type RejectReason } from "../../../src/time/check.ts";
import { decodePacket, encodePacket, encodeRequest, type NtpPacket } from "../../../src/time/packet.ts";
import { unixNsToNtp } from "../../../src/time/timestamp.ts";
import { EPOCH_NS, kiss, ntpServer, type ServerOptions } from "./fakes.ts";

const NONCE = 0x1122_3344_5566_7788n;
const MS = 1_000_000n;
const ex: Exchange = { address: "192.0.2.1", port: 123, nonce: NONCE, t1Ns: EPOCH_NS, t4Ns: EPOCH_NS + 10n * MS };
const from = { address: "192.0.2.1", port: 123 };

function reply(o: ServerOptions = {}): Uint8Array {
  return ntpServer(o)(decodePacket(encodeRequest(NONCE))!, EPOCH_NS + 5n * MS)!;
}
function tamper(f: (p: NtpPacket) => Partial<NtpPacket>): Uint8Array {
  return reply({ tamper: (p) => ({ ...p, ...f(p) }) });
}
function reason(data: Uint8Array, src = from): RejectReason | "ok" {
  const r = checkReply(data, src, ex);
  return r.ok ? "ok" : r.reason;
}

describe("checkReply", () => {
  test("a good answer passes and measures offset ~0 and delay 10 ms", () => {
    const r = checkReply(reply(), from, ex);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Math.abs(Number(r.measurement.offsetNs))).toBeLessThan(2);
    expect(r.measurement.delayNs).toBe(10n * MS);
  });

  const cases: [string, RejectReason, () => Uint8Array, { address: string; port: number }?][] = [
    ["from another address", "unexpected-source", () => reply(), { address: "192.0.2.66", port: 123 }],
    ["from another port", "unexpected-source", () => reply(), { address: "192.0.2.1", port: 1123 }],
    ["shorter than a header (garbage)", "short", () => new Uint8Array([1, 2, 3, 4, 5])],
    ["mode 3 (a client request bounced back)", "mode", () => tamper(() => ({ mode: 3 }))],
    ["mode 5 (broadcast)", "mode", () => tamper(() => ({ mode: 5 }))],
    ["origin not our nonce", "origin-mismatch", () => tamper(() => ({ originTs: NONCE + 1n }))],
    ["version 3", "version", () => tamper(() => ({ version: 3 }))],
    ["stratum 0 (kiss-o'-death)", "kiss", () => reply({ stratum: 0, refId: kiss("RATE") })],
    ["stratum 16", "stratum-unsynchronized", () => reply({ stratum: 16 })],
    ["leap indicator 3", "leap-unsynchronized", () => reply({ leap: 3 })],
    ["zero transmit timestamp", "zero-transmit", () => tamper(() => ({ transmitTs: 0n }))],
    ["zero receive timestamp", "zero-transmit", () => tamper(() => ({ receiveTs: 0n }))],
    ["root dispersion 2 s", "root-distance", () => reply({ rootDispersion: 2 })],
    ["root delay 4 s", "root-distance", () => reply({ rootDelay: 4 })],
    ["held 1 s by the server on a 10 ms round trip (T3 - T2 > T4 - T1)", "negative-delay", () => tamper((p) => ({ transmitTs: p.receiveTs + (1n << 32n) }))],
    [
      "a time in 2001",
      "before-floor",
      () => tamper(() => ({ receiveTs: unixNsToNtp(978_307_200n * 1_000_000_000n), transmitTs: unixNsToNtp(978_307_200n * 1_000_000_000n) })),
    ],
  ];
  for (const [name, want, data, src] of cases) {
    test(`rejects ${name}: ${want}`, () => {
      expect(reason(data(), src)).toBe(want);
    });
  }

  test("a kiss-o'-death carries its code", () => {
    for (const code of ["DENY", "RSTR", "RATE"]) {
      const r = checkReply(reply({ stratum: 0, refId: kiss(code) }), from, ex);
      expect(r.ok ? undefined : r.kiss).toBe(code);
    }
  });

  test("a forged kiss (wrong origin) is not believed: it is not our answer", () => {
    const r = checkReply(reply({ stratum: 0, refId: kiss("DENY"), tamper: (p) => ({ ...p, originTs: 7n }) }), from, ex);
    expect(r.ok ? "ok" : r.reason).toBe("origin-mismatch");
    expect(NOT_OUR_ANSWER.has("origin-mismatch")).toBe(true);
    expect(NOT_OUR_ANSWER.has("kiss")).toBe(false);
  });

  test("the root-distance limit is a parameter", () => {
    expect(checkReply(reply({ rootDispersion: 2 }), from, ex, { ...DEFAULT_LIMITS, maxRootDistanceS: 3 }).ok).toBe(true);
  });

  test("an answer far in the future within 68 years is accepted (the max-change rule is the loop's)", () => {
    const r = checkReply(reply({ skewNs: 3n * 365n * 86_400n * 1_000_000_000n }), from, ex);
    expect(r.ok).toBe(true);
  });

  test("encodePacket of a reply is what the decoder reads (fixture sanity)", () => {
    expect(decodePacket(encodePacket(decodePacket(reply())!))).toEqual(decodePacket(reply())!);
  });
});
