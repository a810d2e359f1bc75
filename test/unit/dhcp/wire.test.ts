// The link-level parsing the transport and the ARP probe do on what a packet
// socket hands them: IPv4/UDP framing checks and RFC 5227 conflict rules.
import { describe, expect, test } from "bun:test";
import { udpPayload, DHCP_CLIENT_FILTER } from "../../../src/dhcp/transport.ts";
import { arpConflicts, arpPacket } from "../../../src/dhcp/arp.ts";
import { maskPrefix, ipToU32, sameSubnet, classfulPrefix } from "../../../src/dhcp/ipv4.ts";

function ipUdp(payload: Buffer, o: { dport?: number; proto?: number; frag?: number; ihl?: number } = {}): Buffer {
  const ihl = o.ihl ?? 20;
  const b = Buffer.alloc(ihl + 8 + payload.length);
  b[0] = 0x40 | (ihl / 4);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(o.frag ?? 0, 6);
  b[8] = 64;
  b[9] = o.proto ?? 17;
  Buffer.from([10, 0, 0, 1]).copy(b, 12);
  Buffer.from([255, 255, 255, 255]).copy(b, 16);
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 10);
  b.writeUInt16BE(67, ihl);
  b.writeUInt16BE(o.dport ?? 68, ihl + 2);
  b.writeUInt16BE(8 + payload.length, ihl + 4);
  payload.copy(b, ihl + 8);
  return b;
}

describe("udpPayload", () => {
  const data = Buffer.from("dhcp payload");
  test("extracts the payload and source, also with IP options", () => {
    expect(udpPayload(ipUdp(data))).toEqual({ ok: true, payload: data, src: "10.0.0.1" });
    expect(udpPayload(ipUdp(data, { ihl: 24 }))).toMatchObject({ ok: true, payload: data });
  });
  test("ignores link padding after the IP total length", () => {
    expect(udpPayload(Buffer.concat([ipUdp(data), Buffer.alloc(20)]))).toMatchObject({ ok: true, payload: data });
  });
  test("rejects a bad header checksum, fragments, other protocols and ports, truncation", () => {
    const bad = ipUdp(data);
    bad[8] = 1;
    expect(udpPayload(bad)).toEqual({ ok: false, reason: "bad IPv4 header checksum" });
    expect(udpPayload(ipUdp(data, { frag: 0x2000 }))).toEqual({ ok: false, reason: "IPv4 fragment" });
    expect(udpPayload(ipUdp(data, { proto: 6 }))).toEqual({ ok: false, reason: "IP protocol 6" });
    expect(udpPayload(ipUdp(data, { dport: 69 }))).toEqual({ ok: false, reason: "not to port 68" });
    expect(udpPayload(ipUdp(data).subarray(0, 30))).toMatchObject({ ok: false, reason: expect.stringMatching(/bad IPv4 lengths/) });
    expect(udpPayload(Buffer.alloc(10))).toMatchObject({ ok: false });
  });
  test("the BPF program's jumps land inside it and end in returns", () => {
    DHCP_CLIENT_FILTER.forEach((insn, i) => {
      if ((insn.code & 0x07) === 0x05) {
        expect(i + 1 + insn.jt).toBeLessThan(DHCP_CLIENT_FILTER.length);
        expect(i + 1 + insn.jf).toBeLessThan(DHCP_CLIENT_FILTER.length);
      }
    });
    expect(DHCP_CLIENT_FILTER.at(-1)?.code).toBe(0x06);
  });
});

describe("ARP conflict rules (RFC 5227 §2.1.1)", () => {
  const me = Buffer.from([2, 0, 0, 0, 0, 1]);
  const other = Buffer.from([2, 0, 0, 0, 0, 2]);
  const zero = Buffer.alloc(6);
  test("another host using the address (reply or request) conflicts", () => {
    expect(arpConflicts(arpPacket(2, other, "10.0.0.5", me, "0.0.0.0"), "10.0.0.5", me)).toBe(true);
    expect(arpConflicts(arpPacket(1, other, "10.0.0.5", zero, "10.0.0.9"), "10.0.0.5", me)).toBe(true);
  });
  test("another host probing for it at the same time conflicts", () => {
    expect(arpConflicts(arpPacket(1, other, "0.0.0.0", zero, "10.0.0.5"), "10.0.0.5", me)).toBe(true);
  });
  test("our own probe, and traffic about other addresses, do not", () => {
    expect(arpConflicts(arpPacket(1, me, "0.0.0.0", zero, "10.0.0.5"), "10.0.0.5", me)).toBe(false);
    expect(arpConflicts(arpPacket(1, other, "10.0.0.7", zero, "10.0.0.5"), "10.0.0.5", me)).toBe(false);
    expect(arpConflicts(Buffer.alloc(10), "10.0.0.5", me)).toBe(false);
  });
});

describe("ipv4 helpers", () => {
  test("masks, subnets, classful defaults", () => {
    expect(maskPrefix(ipToU32("255.255.255.0")!)).toBe(24);
    expect(maskPrefix(ipToU32("255.255.0.255")!)).toBeUndefined();
    expect(sameSubnet("10.1.2.3", "10.1.9.9", 16)).toBe(true);
    expect(sameSubnet("10.1.2.3", "10.2.9.9", 16)).toBe(false);
    expect([classfulPrefix("10.0.0.1"), classfulPrefix("172.16.0.1"), classfulPrefix("192.168.1.1")]).toEqual([8, 16, 24]);
    expect(ipToU32("1.2.3")).toBeUndefined();
  });
});
