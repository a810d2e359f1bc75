// What an ACK must carry to become a lease, and the defaults RFC 2131 gives
// for what it leaves out.
import { describe, expect, test } from "bun:test";
import { decodeMessage, newMessage, BOOTREQUEST, Opt } from "../../../src/dhcp/message.ts";
import { leaseFromAck, leaseRoutes, INFINITE_LEASE } from "../../../src/dhcp/lease.ts";
import { encodeClasslessRoutes, encodeDomainSearch } from "../../../src/dhcp/options.ts";
import { MAC, reply, type ReplyOpts } from "./fakes.ts";

const req = newMessage({ op: BOOTREQUEST, xid: 1, chaddr: MAC });
function ack(o: ReplyOpts = {}) {
  const d = decodeMessage(reply(req, "ack", o));
  if (!d.ok) throw new Error(d.reason);
  return leaseFromAck(d.msg, 1000);
}

describe("leaseFromAck", () => {
  test("a full ACK: address, prefix, times, DNS, search, hostname, MTU", () => {
    const r = ack({
      lease: 7200,
      t1: 1000,
      t2: 5000,
      extra: [
        [Opt.dns, Buffer.from([8, 8, 8, 8, 1, 1, 1, 1])],
        [Opt.domainSearch, encodeDomainSearch(["a.test", "b.a.test"])],
        [Opt.hostname, Buffer.from("node-7\0")],
        [Opt.domainName, Buffer.from("a.test")],
        [Opt.mtu, Buffer.from([0x05, 0x78])],
      ],
    });
    if (!r.ok) throw new Error(r.reason);
    expect(r.lease).toMatchObject({
      address: "192.168.7.20",
      prefix: 24,
      serverId: "192.168.7.1",
      leaseSeconds: 7200,
      t1Seconds: 1000,
      t2Seconds: 5000,
      routers: ["192.168.7.1"],
      dns: ["8.8.8.8", "1.1.1.1"],
      search: ["a.test", "b.a.test"],
      hostname: "node-7",
      domainName: "a.test",
      mtu: 1400,
      obtainedAt: 1000,
    });
    expect(leaseRoutes(r.lease)).toEqual([{ dst: "0.0.0.0", prefix: 0, gateway: "192.168.7.1" }]);
  });

  test("T1/T2 default to 0.5 and 0.875 of the lease, and are repaired when out of order", () => {
    const a = ack({ lease: 1000 });
    expect(a.ok && [a.lease.t1Seconds, a.lease.t2Seconds]).toEqual([500, 875]);
    const b = ack({ lease: 1000, t1: 900, t2: 800 });
    expect(b.ok && [b.lease.t1Seconds, b.lease.t2Seconds]).toEqual([500, 800]);
    const c = ack({ lease: 1000, t2: 2000 });
    expect(c.ok && c.lease.t2Seconds).toBe(875);
    const inf = ack({ lease: INFINITE_LEASE });
    expect(inf.ok && [inf.lease.t1Seconds, inf.lease.t2Seconds]).toEqual([INFINITE_LEASE, INFINITE_LEASE]);
  });

  test("option 121 is preferred over option 3 (RFC 3442)", () => {
    const routes = [
      { dst: "10.0.0.0", prefix: 8, gateway: "192.168.7.254" },
      { dst: "0.0.0.0", prefix: 0, gateway: "192.168.7.253" },
    ];
    const r = ack({ extra: [[Opt.classlessRoutes, encodeClasslessRoutes(routes)]] });
    if (!r.ok) throw new Error(r.reason);
    expect(r.lease.routers).toEqual(["192.168.7.1"]);
    expect(leaseRoutes(r.lease)).toEqual(routes);
  });

  test("a classless gateway reachable through an on-link classless route is accepted", () => {
    const routes = [
      { dst: "10.50.0.0", prefix: 24, gateway: "0.0.0.0" },
      { dst: "0.0.0.0", prefix: 0, gateway: "10.50.0.1" },
    ];
    expect(ack({ extra: [[Opt.classlessRoutes, encodeClasslessRoutes(routes)]] }).ok).toBe(true);
  });

  const refused: [string, ReplyOpts, RegExp][] = [
    ["lease time 0", { lease: 0 }, /lease time 0/],
    ["no server id", { omitServerId: true }, /no server identifier/],
    ["router outside the subnet", { router: "10.9.9.9" }, /router 10\.9\.9\.9 outside 192\.168\.7\.20\/24/],
    ["non-contiguous mask", { mask: "255.0.255.0" }, /bad subnet mask/],
    ["yiaddr 0.0.0.0", { yiaddr: "0.0.0.0" }, /unusable yiaddr/],
    ["multicast yiaddr", { yiaddr: "224.0.0.5" }, /unusable yiaddr/],
    ["malformed DNS list", { extra: [[Opt.dns, Buffer.from([1, 2, 3])]] }, /malformed DNS servers/],
    ["malformed option 121", { extra: [[Opt.classlessRoutes, Buffer.from([40, 1])]] }, /malformed classless/],
    [
      "classless gateway off-link",
      { extra: [[Opt.classlessRoutes, encodeClasslessRoutes([{ dst: "0.0.0.0", prefix: 0, gateway: "172.16.0.1" }])]] },
      /classless route 0\.0\.0\.0\/0 via 172\.16\.0\.1 outside/,
    ],
    ["malformed option 119", { extra: [[Opt.domainSearch, Buffer.from([0xc0, 0x09])]] }, /malformed domain search/],
  ];
  for (const [name, o, why] of refused) {
    test(`refused: ${name}`, () => {
      const r = ack(o);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(why);
    });
  }
});
