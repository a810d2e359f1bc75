// The client state machine with a fake transport and a fake clock: the
// exchange that binds, every sanity check that makes it ignore a packet, the
// retransmission backoff, renewal at T1 (unicast), rebinding at T2
// (broadcast), expiry, NAKs, DECLINE on an ARP conflict and RELEASE on stop.
import { describe, expect, test } from "bun:test";
import { DhcpClient, type DhcpClientOptions, type DhcpState } from "../../../src/dhcp/client.ts";
import { Opt } from "../../../src/dhcp/message.ts";
import { retransmitDelay, RFC2131_BACKOFF } from "../../../src/dhcp/clock.ts";
import { decodeIp } from "../../../src/dhcp/options.ts";
import { FakeClock, FakeProbe, FakeTransport, MAC, RecordingApplier, flush, reply, type ReplyOpts } from "./fakes.ts";

function setup(extra: Partial<DhcpClientOptions> = {}) {
  const clock = new FakeClock();
  const net = new FakeTransport(clock);
  const applier = new RecordingApplier();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const client = new DhcpClient({ mac: MAC, transport: net, applier, clock, random, ...extra });
  const ignored: string[] = [];
  const states: DhcpState[] = [];
  client.on("ignored", (r) => ignored.push(r));
  client.on("state", (s) => states.push(s));
  return { clock, net, applier, client, ignored, states };
}

type Env = ReturnType<typeof setup>;

/** The message up to (not including) its End option. */
function withoutEnd(b: Buffer): Buffer {
  let i = 240;
  while (b[i] !== 255) i += b[i] === 0 ? 1 : 2 + b[i + 1]!;
  return b.subarray(0, i);
}

/** DISCOVER → OFFER → REQUEST → ACK with the given lease options. */
async function bind(e: Env, o: ReplyOpts = {}): Promise<void> {
  e.client.start();
  await e.clock.advance(0);
  const discover = e.net.last();
  expect(discover.type).toBe("discover");
  e.net.deliver(reply(discover.msg, "offer", o));
  const request = e.net.last();
  expect(request.type).toBe("request");
  e.net.deliver(reply(request.msg, "ack", o));
  await flush();
  expect(e.client.state()).toBe("bound");
}

describe("acquiring a lease", () => {
  test("DISCOVER, OFFER, REQUEST with options 50/54 and the offer's xid, ACK: bound and applied", async () => {
    const e = setup({ hostname: "node-a" });
    e.client.start();
    await e.clock.advance(0);
    const d = e.net.last();
    expect(d).toMatchObject({ type: "discover", to: "broadcast" });
    expect(d.msg.chaddr).toEqual(MAC);
    expect(d.msg.options.get(Opt.clientId)).toEqual(Buffer.concat([Buffer.from([1]), MAC]));
    expect([...d.msg.options.get(Opt.paramRequest)!]).toEqual(expect.arrayContaining([1, 3, 6, 12, 15, 26, 28, 51, 58, 59, 119, 121]));
    expect(d.msg.options.get(Opt.hostname)?.toString()).toBe("node-a");
    e.net.deliver(reply(d.msg, "offer"));
    expect(e.client.state()).toBe("requesting");
    const r = e.net.last();
    expect(r).toMatchObject({ type: "request", to: "broadcast" });
    expect(r.msg.xid).toBe(d.msg.xid);
    expect(r.msg.ciaddr).toBe("0.0.0.0");
    expect(decodeIp(r.msg.options.get(Opt.requestedIp)!)).toBe("192.168.7.20");
    expect(decodeIp(r.msg.options.get(Opt.serverId)!)).toBe("192.168.7.1");
    e.net.deliver(reply(r.msg, "ack"));
    await flush();
    expect(e.client.state()).toBe("bound");
    expect(e.applier.calls).toEqual(["bound 192.168.7.20"]);
    expect(e.client.lease()?.address).toBe("192.168.7.20");
    expect(e.states).toEqual(["selecting", "requesting", "bound"]);
  });

  test("with a probe: the offered address is probed before it is applied, and announced after", async () => {
    const probe = new FakeProbe();
    const e = setup({ probe });
    await bind(e);
    expect(probe.probed).toEqual(["192.168.7.20"]);
    expect(probe.announced).toEqual(["192.168.7.20"]);
    expect(e.states).toEqual(["selecting", "requesting", "probing", "bound"]);
  });

  test("ARP conflict: DECLINE with options 50/54, no applier call, DISCOVER again only after the decline wait", async () => {
    const probe = new FakeProbe();
    probe.inUseAddresses.add("192.168.7.20");
    const e = setup({ probe, declineWaitMs: 10_000 });
    e.client.start();
    await e.clock.advance(0);
    e.net.deliver(reply(e.net.last().msg, "offer"));
    e.net.deliver(reply(e.net.last().msg, "ack"));
    await flush();
    const decline = e.net.last();
    expect(decline).toMatchObject({ type: "decline", to: "broadcast" });
    expect(decodeIp(decline.msg.options.get(Opt.requestedIp)!)).toBe("192.168.7.20");
    expect(decodeIp(decline.msg.options.get(Opt.serverId)!)).toBe("192.168.7.1");
    expect(e.applier.calls).toEqual([]);
    expect(e.client.state()).toBe("init");
    const n = e.net.sent.length;
    await e.clock.advance(9_999);
    expect(e.net.sent.length).toBe(n);
    await e.clock.advance(1);
    expect(e.net.last().type).toBe("discover");
  });

  test("NAK in REQUESTING: back to INIT and a new DISCOVER with a new xid", async () => {
    const e = setup();
    e.client.start();
    await e.clock.advance(0);
    const d = e.net.last();
    e.net.deliver(reply(d.msg, "offer"));
    e.net.deliver(reply(e.net.last().msg, "nak"));
    await e.clock.advance(0);
    const again = e.net.last();
    expect(again.type).toBe("discover");
    expect(again.msg.xid).not.toBe(d.msg.xid);
    expect(e.states).toEqual(["selecting", "requesting", "init", "selecting"]);
    expect(e.applier.calls).toEqual([]);
  });

  test("repeated NAKs back off instead of spinning: 0, 2, 4, 8 s before the next DISCOVER", async () => {
    const e = setup();
    e.client.start();
    await e.clock.advance(0);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      e.net.deliver(reply(e.net.last().msg, "offer"));
      e.net.deliver(reply(e.net.last().msg, "nak"));
      const nakAt = e.clock.now();
      await e.clock.advance(10_000);
      waits.push(e.net.sent.find((s) => s.type === "discover" && s.at >= nakAt)!.at - nakAt);
    }
    expect(waits).toEqual([0, 2000, 4000, 8000]);
  });

  test("REQUESTING gives up after its retransmissions and starts over", async () => {
    const e = setup({ requestRetries: 2 });
    e.client.start();
    await e.clock.advance(0);
    e.net.deliver(reply(e.net.last().msg, "offer"));
    await e.clock.advance(4_000 + 8_000 + 16_000 + 3 * 1000 + 1);
    expect(e.net.sent.map((s) => s.type)).toEqual(["discover", "request", "request", "request", "discover"]);
  });
});

describe("packets that are ignored, state kept", () => {
  const cases: [string, (e: Env) => Buffer, RegExp][] = [
    ["wrong xid", (e) => reply(e.net.last().msg, "offer", { xid: 12345 }), /xid 0x00003039 is not ours/],
    ["wrong chaddr", (e) => reply(e.net.last().msg, "offer", { chaddr: Buffer.from([2, 2, 2, 2, 2, 2]) }), /chaddr 020202020202 is not ours/],
    [
      "wrong cookie",
      (e) => {
        const b = reply(e.net.last().msg, "offer");
        b.writeUInt32BE(0x11223344, 236);
        return b;
      },
      /bad magic cookie/,
    ],
    ["truncated options", (e) => Buffer.concat([withoutEnd(reply(e.net.last().msg, "offer")), Buffer.from([6, 8, 1, 2])]), /truncated option 6/],
    ["lease time 0", (e) => reply(e.net.last().msg, "offer", { lease: 0 }), /lease time 0/],
    ["router outside the subnet", (e) => reply(e.net.last().msg, "offer", { router: "10.0.0.1" }), /router 10\.0\.0\.1 outside/],
    ["no server id", (e) => reply(e.net.last().msg, "offer", { omitServerId: true }), /without server identifier/],
    ["an ACK while SELECTING", (e) => reply(e.net.last().msg, "ack"), /ACK from 192\.168\.7\.1 unexpected in SELECTING/],
    [
      "a client's own broadcast (BOOTREQUEST)",
      (e) => {
        const b = reply(e.net.last().msg, "offer");
        b[0] = 1;
        return b;
      },
      /op 1 is not BOOTREPLY/,
    ],
  ];
  for (const [name, make, why] of cases) {
    test(`in SELECTING: ${name}`, async () => {
      const e = setup();
      e.client.start();
      await e.clock.advance(0);
      e.net.deliver(make(e));
      expect(e.client.state()).toBe("selecting");
      expect(e.ignored.at(-1)).toMatch(why);
      // And a good offer still works afterwards.
      e.net.deliver(reply(e.net.last().msg, "offer"));
      expect(e.client.state()).toBe("requesting");
    });
  }

  test("in REQUESTING: an ACK from another server, an ACK with lease time 0, a NAK from another server", async () => {
    const e = setup();
    e.client.start();
    await e.clock.advance(0);
    e.net.deliver(reply(e.net.last().msg, "offer"));
    const r = e.net.last().msg;
    e.net.deliver(reply(r, "ack", { server: "192.168.7.2" }));
    e.net.deliver(reply(r, "ack", { lease: 0 }));
    e.net.deliver(reply(r, "nak", { server: "192.168.7.2" }));
    await flush();
    expect(e.ignored).toEqual([
      expect.stringMatching(/ACK from 192\.168\.7\.2, we requested from 192\.168\.7\.1/),
      expect.stringMatching(/lease time 0/),
      expect.stringMatching(/NAK from 192\.168\.7\.2/),
    ]);
    expect(e.client.state()).toBe("requesting");
    e.net.deliver(reply(r, "ack"));
    await flush();
    expect(e.client.state()).toBe("bound");
  });

  test("3000 random packets with our xid and chaddr never throw and never bind", async () => {
    const e = setup();
    const errors: Error[] = [];
    e.client.on("error", (x) => errors.push(x));
    e.client.start();
    await e.clock.advance(0);
    const good = reply(e.net.last().msg, "offer");
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(good.subarray(0, 240 + Math.floor(rnd() * 60)));
      for (let k = 240; k < b.length; k++) if (rnd() < 0.3) b[k] = Math.floor(rnd() * 256);
      e.net.deliver(b);
      if (e.client.state() !== "selecting") break;
    }
    expect(errors).toEqual([]);
    expect(e.applier.calls).toEqual([]);
  });
});

describe("retransmission backoff (RFC 2131 §4.1)", () => {
  test("4, 8, 16, 32, 64, 64 s, each within ±1 s", () => {
    for (const r of [0, 0.5, 0.999999]) {
      const d = [0, 1, 2, 3, 4, 5, 9].map((a) => retransmitDelay(RFC2131_BACKOFF, a, () => r));
      const base = [4000, 8000, 16000, 32000, 64000, 64000, 64000];
      d.forEach((x, i) => {
        expect(x).toBeGreaterThanOrEqual(base[i]! - 1000);
        expect(x).toBeLessThanOrEqual(base[i]! + 1000);
      });
    }
    expect(retransmitDelay(RFC2131_BACKOFF, 0, () => 0)).toBe(3000);
    expect(retransmitDelay(RFC2131_BACKOFF, 0, () => 0.5)).toBe(4000);
  });

  test("DISCOVERs go out at those intervals with one xid, secs counting up", async () => {
    const e = setup();
    e.client.start();
    await e.clock.advance(300_000);
    const ds = e.net.sent.filter((s) => s.type === "discover");
    const gaps = ds.slice(1).map((s, i) => s.at - ds[i]!.at);
    const base = [4000, 8000, 16000, 32000, 64000, 64000];
    base.forEach((b, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(b - 1000);
      expect(gaps[i]).toBeLessThanOrEqual(b + 1000);
    });
    expect(new Set(ds.map((s) => s.msg.xid)).size).toBe(1);
    expect(ds.at(-1)!.msg.secs).toBe(Math.floor(ds.at(-1)!.at / 1000));
  });
});

describe("a bound lease over time", () => {
  const times = { lease: 1000, t1: 500, t2: 875 };

  test("T1: RENEWING by unicast REQUEST with ciaddr and no 50/54; ACK renews in place", async () => {
    const e = setup();
    await bind(e, times);
    const n = e.net.sent.length;
    await e.clock.advance(499_999);
    expect(e.net.sent.length).toBe(n);
    await e.clock.advance(1);
    expect(e.client.state()).toBe("renewing");
    const r = e.net.last();
    expect(r).toMatchObject({ type: "request", to: "192.168.7.1" });
    expect(r.msg.ciaddr).toBe("192.168.7.20");
    expect(r.msg.options.has(Opt.requestedIp)).toBe(false);
    expect(r.msg.options.has(Opt.serverId)).toBe(false);
    e.net.deliver(reply(r.msg, "ack", times));
    await flush();
    expect(e.client.state()).toBe("bound");
    expect(e.applier.calls).toEqual(["bound 192.168.7.20", "renewed 192.168.7.20 (was 192.168.7.20)"]);
    // The new lease counts from the renewing REQUEST: next T1 500 s after it.
    await e.clock.advance(499_999);
    expect(e.client.state()).toBe("bound");
    await e.clock.advance(1);
    expect(e.client.state()).toBe("renewing");
  });

  test("RENEWING retransmits after half the time to T2, not sooner than the floor", async () => {
    const e = setup({ renewRetryMinMs: 60_000 });
    await bind(e, times);
    await e.clock.advance(500_000);
    const at = e.net.sent.filter((s) => s.type === "request" && s.to !== "broadcast").map((s) => s.at);
    await e.clock.advance(374_999);
    const after = e.net.sent.filter((s) => s.type === "request" && s.to !== "broadcast").map((s) => s.at);
    // T2 - T1 = 375 s: retransmits at +187.5 s, then +93.75 s, then the 60 s floor.
    expect(at).toEqual([500_000]);
    expect(after.map((t) => t - 500_000)).toEqual([0, 187_500, 281_250, 341_250]);
  });

  test("T2: REBINDING by broadcast; an ACK from another server rebinds to it", async () => {
    const e = setup();
    await bind(e, times);
    await e.clock.advance(875_000);
    expect(e.client.state()).toBe("rebinding");
    const r = e.net.last();
    expect(r).toMatchObject({ type: "request", to: "broadcast" });
    expect(r.msg.ciaddr).toBe("192.168.7.20");
    e.net.deliver(reply(r.msg, "ack", { ...times, server: "192.168.7.2" }));
    await flush();
    expect(e.client.state()).toBe("bound");
    expect(e.client.lease()?.serverId).toBe("192.168.7.2");
  });

  test("expiry: the applier drops the lease and the client starts over from INIT", async () => {
    const e = setup();
    const expired: string[] = [];
    e.client.on("expired", (l, why) => expired.push(`${l.address} ${why}`));
    await bind(e, times);
    await e.clock.advance(999_999);
    expect(e.client.state()).toBe("rebinding");
    expect(e.applier.calls).toEqual(["bound 192.168.7.20"]);
    await e.clock.advance(1);
    expect(e.applier.calls).toEqual(["bound 192.168.7.20", "expired 192.168.7.20 expired"]);
    expect(expired).toEqual(["192.168.7.20 expired"]);
    expect(e.client.lease()).toBeUndefined();
    expect(e.client.state()).toBe("selecting");
    expect(e.net.last().type).toBe("discover");
    expect(e.states.slice(-4)).toEqual(["renewing", "rebinding", "init", "selecting"]);
  });

  test("NAK in RENEWING: lease dropped (reason nak), DISCOVER again", async () => {
    const e = setup();
    await bind(e, times);
    await e.clock.advance(500_000);
    e.net.deliver(reply(e.net.last().msg, "nak"));
    await e.clock.advance(0);
    expect(e.applier.calls.at(-1)).toBe("expired 192.168.7.20 nak");
    expect(e.net.last().type).toBe("discover");
  });

  test("a renewal with a different address replaces the lease: expired(replaced), then bound", async () => {
    const e = setup();
    await bind(e, times);
    await e.clock.advance(500_000);
    e.net.deliver(reply(e.net.last().msg, "ack", { ...times, yiaddr: "192.168.7.77" }));
    await flush();
    expect(e.applier.calls).toEqual(["bound 192.168.7.20", "expired 192.168.7.20 replaced", "bound 192.168.7.77"]);
  });

  test("an infinite lease arms no timers", async () => {
    const e = setup();
    await bind(e, { lease: 0xffffffff });
    await e.clock.advance(10 * 365 * 86400_000);
    expect(e.client.state()).toBe("bound");
  });

  test("an applier that throws is reported, and the lease machinery keeps going", async () => {
    const e = setup();
    const errors: string[] = [];
    e.client.on("error", (x) => errors.push(x.message));
    e.applier.fail = true;
    await bind(e, times);
    expect(errors).toEqual(["applier failed"]);
    await e.clock.advance(500_000);
    expect(e.client.state()).toBe("renewing");
  });
});

describe("stop", () => {
  test("stop(true): RELEASE unicast with ciaddr and server id, lease dropped, transport closed, no timers left", async () => {
    const e = setup();
    await bind(e);
    await e.client.stop(true);
    const rel = e.net.last();
    expect(rel).toMatchObject({ type: "release", to: "192.168.7.1" });
    expect(rel.msg.ciaddr).toBe("192.168.7.20");
    expect(decodeIp(rel.msg.options.get(Opt.serverId)!)).toBe("192.168.7.1");
    expect(e.applier.calls.at(-1)).toBe("expired 192.168.7.20 released");
    expect(e.net.closed).toBe(true);
    expect(e.client.state()).toBe("stopped");
    const n = e.net.sent.length;
    await e.clock.advance(10_000_000);
    expect(e.net.sent.length).toBe(n);
  });

  test("stop(false): no RELEASE, the lease stays on the interface", async () => {
    const e = setup();
    await bind(e);
    await e.client.stop(false);
    expect(e.net.sent.some((s) => s.type === "release")).toBe(false);
    expect(e.applier.calls).toEqual(["bound 192.168.7.20"]);
  });

  test("stop while probing: the probe's late answer is dropped", async () => {
    let answer: (v: boolean) => void = () => {};
    const e = setup({ probe: { inUse: () => new Promise<boolean>((r) => (answer = r)) } });
    e.client.start();
    await e.clock.advance(0);
    e.net.deliver(reply(e.net.last().msg, "offer"));
    e.net.deliver(reply(e.net.last().msg, "ack"));
    await flush();
    expect(e.client.state()).toBe("probing");
    await e.client.stop(true);
    answer(false);
    await flush();
    expect(e.client.state()).toBe("stopped");
    expect(e.applier.calls).toEqual([]);
  });
});
