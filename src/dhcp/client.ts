// The DHCPv4 client state machine (RFC 2131 §4.4, figure 5):
//
//   INIT ─DISCOVER→ SELECTING ─OFFER/REQUEST→ REQUESTING ─ACK→ (PROBING) → BOUND
//   BOUND ─T1→ RENEWING (unicast) ─T2→ REBINDING (broadcast) ─expiry→ INIT
//   NAK in REQUESTING/RENEWING/REBINDING → INIT; ARP conflict → DECLINE → INIT
//
// Everything outside the protocol is injected: the transport, the ARP probe,
// what to do with a lease (the applier), the clock and the random source, so
// tests drive hours of lease time deterministically. A packet that fails a
// check is ignored with a reason (the "ignored" event) and the state is kept;
// nothing a server sends can throw out of here.
import {
  decodeMessage,
  encodeMessage,
  messageTypeName,
  MessageType,
  newMessage,
  Opt,
  BOOTREPLY,
  BOOTREQUEST,
  type DhcpMessage,
  type MessageTypeName,
} from "./message.ts";
import { encodeIps, encodeU16, decodeIp } from "./options.ts";
import { INFINITE_LEASE, leaseFromAck, type Lease } from "./lease.ts";
import { realClock, retransmitDelay, RFC2131_BACKOFF, type Backoff, type Clock, type Timer } from "./clock.ts";

export type DhcpState = "init" | "selecting" | "requesting" | "probing" | "bound" | "renewing" | "rebinding" | "stopped";

/** How DHCP messages leave and arrive on the interface. */
export interface DhcpTransport {
  /** To 255.255.255.255:67 out of the client's interface, from 0.0.0.0 or the leased address. */
  broadcast(packet: Buffer): void;
  /** To `server`:67 through the IP stack (only used once an address is bound). */
  unicast(packet: Buffer, server: string): void;
  /** Registers the receiver of every UDP payload that arrives for port 68. */
  onPacket(fn: (packet: Buffer) => void): void;
  close(): void;
}

/** RFC 5227 address conflict detection. */
export interface AddressProbe {
  /** Resolves true when another host claims `address`. */
  inUse(address: string): Promise<boolean>;
  /** Tells the link the address is ours now (RFC 5227 §2.3 announcements); fire and forget. */
  announce?(address: string): void;
  close?(): void;
}

export type ExpiryReason = "expired" | "nak" | "released" | "replaced";

/** What init does with a lease; the client waits for each call before going on. */
export interface LeaseApplier {
  onBound(lease: Lease): void | Promise<void>;
  onRenewed(lease: Lease, previous: Lease): void | Promise<void>;
  onExpired(lease: Lease, reason: ExpiryReason): void | Promise<void>;
}

export interface DhcpEvents {
  state: (state: DhcpState, previous: DhcpState) => void;
  bound: (lease: Lease) => void;
  renewed: (lease: Lease) => void;
  expired: (lease: Lease, reason: ExpiryReason) => void;
  sent: (type: MessageTypeName, to: string) => void;
  ignored: (reason: string) => void;
  log: (line: string) => void;
  error: (err: Error) => void;
}

export interface DhcpClientOptions {
  /** The interface's hardware address (chaddr). */
  mac: Buffer;
  transport: DhcpTransport;
  applier: LeaseApplier;
  /** Without one, offered addresses are not probed. */
  probe?: AddressProbe;
  clock?: Clock;
  /** In [0, 1); for xids and backoff jitter. */
  random?: () => number;
  backoff?: Backoff;
  /** REQUESTING gives up after this many retransmissions and starts over (default 4: 4+8+16+32+64 s). */
  requestRetries?: number;
  /** RFC 2131 §3.1.5: at least 10 s between a DECLINE and the next DISCOVER. */
  declineWaitMs?: number;
  /** RFC 2131 §4.4.5: the floor of RENEWING/REBINDING retransmission (60 s). */
  renewRetryMinMs?: number;
  /** Sent as option 12 so the server may register it. */
  hostname?: string;
  /** Option 61; default: type 1 (Ethernet) and the MAC. */
  clientId?: Buffer;
  /** Asked for in DISCOVER (option 50): the last address, to keep it across reboots. */
  requestedAddress?: string;
  /** Ask servers to broadcast replies; not needed when the transport reads the link layer. */
  broadcastFlag?: boolean;
}

/** The options minos asks for (option 55). */
export const PARAMETER_REQUEST_LIST = [
  Opt.subnetMask,
  Opt.router,
  Opt.dns,
  Opt.hostname,
  Opt.domainName,
  Opt.mtu,
  Opt.broadcast,
  Opt.leaseTime,
  Opt.renewalTime,
  Opt.rebindingTime,
  Opt.domainSearch,
  Opt.classlessRoutes,
];

type Listeners = { [E in keyof DhcpEvents]: Set<DhcpEvents[E]> };

export class DhcpClient {
  private st: DhcpState = "init";
  /** Bumped on every transition: a timer or an awaited call from an older state sees it changed and does nothing. */
  private epoch = 0;
  private exchangeTimer: Timer | undefined;
  private leaseTimers: Timer[] = [];
  private xid = 0;
  private attempt = 0;
  private exchangeStart = 0;
  private requestSentAt = 0;
  private offer: { address: string; serverId: string } | undefined;
  private current: Lease | undefined;
  private times = { t1: 0, t2: 0, expiry: 0 };
  private naks = 0;
  private applying: Promise<void> = Promise.resolve();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private readonly listeners: Listeners = {
    state: new Set(),
    bound: new Set(),
    renewed: new Set(),
    expired: new Set(),
    sent: new Set(),
    ignored: new Set(),
    log: new Set(),
    error: new Set(),
  };

  constructor(private readonly o: DhcpClientOptions) {
    this.clock = o.clock ?? realClock;
    this.random = o.random ?? Math.random;
    this.backoff = o.backoff ?? RFC2131_BACKOFF;
  }

  on<E extends keyof DhcpEvents>(event: E, fn: DhcpEvents[E]): () => void {
    (this.listeners[event] as Set<DhcpEvents[E]>).add(fn);
    return () => (this.listeners[event] as Set<DhcpEvents[E]>).delete(fn);
  }

  state(): DhcpState {
    return this.st;
  }

  /** The lease in force (BOUND, RENEWING, REBINDING), else undefined. */
  lease(): Lease | undefined {
    return this.current;
  }

  start(): void {
    this.o.transport.onPacket((p) => this.receive(p));
    this.enterInit(0);
  }

  /** Stops the client; with `release`, sends DHCPRELEASE and has the applier drop the lease first. */
  async stop(release: boolean): Promise<void> {
    if (this.st === "stopped") return;
    this.epoch++;
    this.cancelExchange();
    this.cancelLeaseTimers();
    const lease = this.current;
    if (release && lease) {
      this.xid = this.newXid();
      const m = this.base("release", { ciaddr: lease.address });
      m.options.set(Opt.serverId, encodeIps([lease.serverId]));
      this.send(m, lease.serverId);
      this.current = undefined;
      await this.apply(() => this.o.applier.onExpired(lease, "released"));
      this.emit("expired", lease, "released");
    }
    this.setState("stopped");
    this.o.transport.close();
    this.o.probe?.close?.();
  }

  // ---- transitions ----------------------------------------------------------

  private enterInit(delayMs: number): void {
    this.setState("init");
    this.offer = undefined;
    const e = this.epoch;
    this.exchangeTimer = this.clock.after(delayMs, () => e === this.epoch && this.enterSelecting());
  }

  private enterSelecting(): void {
    this.setState("selecting");
    this.xid = this.newXid();
    this.exchangeStart = this.clock.now();
    const discover = () => {
      const m = this.base("discover");
      if (this.o.requestedAddress) m.options.set(Opt.requestedIp, encodeIps([this.o.requestedAddress]));
      this.addRequestOptions(m);
      this.send(m, "broadcast");
    };
    this.retransmitting(discover, Infinity, () => {});
  }

  private enterRequesting(offer: { address: string; serverId: string }): void {
    this.setState("requesting");
    this.offer = offer;
    this.requestSentAt = this.clock.now();
    const request = () => {
      const m = this.base("request");
      m.options.set(Opt.requestedIp, encodeIps([offer.address]));
      m.options.set(Opt.serverId, encodeIps([offer.serverId]));
      this.addRequestOptions(m);
      this.send(m, "broadcast");
    };
    this.retransmitting(request, this.o.requestRetries ?? 4, () => {
      this.log(`no ACK from ${offer.serverId} for ${offer.address}: starting over`);
      this.enterInit(0);
    });
  }

  private async enterProbing(lease: Lease): Promise<void> {
    const probe = this.o.probe;
    if (!probe) return this.enterBound(lease);
    this.setState("probing");
    const e = this.epoch;
    let inUse = false;
    try {
      inUse = await probe.inUse(lease.address);
    } catch (err) {
      this.emit("error", asError(err));
    }
    if (e !== this.epoch) return;
    if (!inUse) return this.enterBound(lease);
    this.log(`${lease.address} is in use on the link (ARP): DECLINE`);
    const m = this.base("decline");
    m.secs = 0;
    m.options.set(Opt.requestedIp, encodeIps([lease.address]));
    m.options.set(Opt.serverId, encodeIps([lease.serverId]));
    this.send(m, "broadcast");
    this.enterInit(this.o.declineWaitMs ?? 10_000);
  }

  private async enterBound(lease: Lease): Promise<void> {
    this.naks = 0;
    const previous = this.current;
    this.current = lease;
    this.setState("bound");
    const e = this.epoch;
    this.scheduleLeaseTimers(lease);
    if (previous && previous.address === lease.address) {
      await this.apply(() => this.o.applier.onRenewed(lease, previous));
      if (e === this.epoch) this.emit("renewed", lease);
      return;
    }
    if (previous) {
      await this.apply(() => this.o.applier.onExpired(previous, "replaced"));
      this.emit("expired", previous, "replaced");
    }
    await this.apply(() => this.o.applier.onBound(lease));
    if (e !== this.epoch) return;
    this.o.probe?.announce?.(lease.address);
    this.emit("bound", lease);
  }

  private enterRenewing(): void {
    const lease = this.current;
    if (!lease) return;
    this.setState("renewing");
    this.xid = this.newXid();
    this.exchangeStart = this.requestSentAt = this.clock.now();
    const send = () => {
      const m = this.base("request", { ciaddr: lease.address });
      this.addRequestOptions(m);
      this.send(m, lease.serverId);
    };
    send();
    this.renewRetransmit(send, () => this.times.t2);
  }

  private enterRebinding(): void {
    const lease = this.current;
    if (!lease) return;
    this.setState("rebinding");
    this.xid = this.newXid();
    this.exchangeStart = this.requestSentAt = this.clock.now();
    const send = () => {
      const m = this.base("request", { ciaddr: lease.address });
      this.addRequestOptions(m);
      this.send(m, "broadcast");
    };
    send();
    this.renewRetransmit(send, () => this.times.expiry);
  }

  private async dropLease(reason: "expired" | "nak"): Promise<void> {
    const lease = this.current;
    this.current = undefined;
    this.cancelLeaseTimers();
    this.enterInit(reason === "nak" ? this.nakDelay() : 0);
    if (!lease) return;
    this.log(`lease ${lease.address}/${lease.prefix} ${reason === "nak" ? "refused (NAK)" : "expired"}`);
    await this.apply(() => this.o.applier.onExpired(lease, reason));
    this.emit("expired", lease, reason);
  }

  // ---- receiving ------------------------------------------------------------

  private receive(packet: Buffer): void {
    try {
      this.handle(packet);
    } catch (err) {
      this.emit("error", asError(err));
    }
  }

  private handle(packet: Buffer): void {
    if (this.st === "stopped" || this.st === "init" || this.st === "bound" || this.st === "probing") return;
    const d = decodeMessage(packet);
    if (!d.ok) return this.ignore(d.reason);
    const m = d.msg;
    if (m.op !== BOOTREPLY) return this.ignore(`op ${m.op} is not BOOTREPLY`);
    if (m.xid !== this.xid) return this.ignore(`xid 0x${hex(m.xid)} is not ours (0x${hex(this.xid)})`);
    if (m.chaddr.length < this.o.mac.length || !m.chaddr.subarray(0, this.o.mac.length).equals(this.o.mac))
      return this.ignore(`chaddr ${m.chaddr.toString("hex")} is not ours`);
    const typeOpt = m.options.get(Opt.messageType);
    const type = typeOpt?.length === 1 ? messageTypeName(typeOpt[0]) : undefined;
    if (!type) return this.ignore("no valid message type (option 53)");
    const sidOpt = m.options.get(Opt.serverId);
    const serverId = sidOpt && decodeIp(sidOpt);
    if (!serverId) return this.ignore(`${type} without server identifier (option 54)`);

    if (type === "nak") return this.onNak(m, serverId);
    if (type === "offer" && this.st === "selecting") {
      const r = leaseFromAck(m, this.clock.now());
      if (!r.ok) return this.ignore(`OFFER from ${serverId}: ${r.reason}`);
      this.log(`OFFER ${r.lease.address}/${r.lease.prefix} from ${serverId}`);
      return this.enterRequesting({ address: r.lease.address, serverId });
    }
    if (type === "ack" && (this.st === "requesting" || this.st === "renewing" || this.st === "rebinding")) {
      if (this.st === "requesting" && serverId !== this.offer?.serverId) return this.ignore(`ACK from ${serverId}, we requested from ${this.offer?.serverId}`);
      if (this.st === "requesting" && m.yiaddr !== this.offer?.address) return this.ignore(`ACK for ${m.yiaddr}, we requested ${this.offer?.address}`);
      const r = leaseFromAck(m, this.requestSentAt);
      if (!r.ok) return this.ignore(`ACK from ${serverId}: ${r.reason}`);
      this.cancelExchange();
      this.log(`ACK ${r.lease.address}/${r.lease.prefix} from ${serverId}, lease ${r.lease.leaseSeconds} s (T1 ${r.lease.t1Seconds}, T2 ${r.lease.t2Seconds})`);
      void (this.st === "requesting" ? this.enterProbing(r.lease) : this.enterBound(r.lease));
      return;
    }
    this.ignore(`${type.toUpperCase()} from ${serverId} unexpected in ${this.st.toUpperCase()}`);
  }

  private onNak(m: DhcpMessage, serverId: string): void {
    const msg = m.options.get(Opt.message)?.toString("latin1");
    const why = msg ? ` (${msg})` : "";
    if (this.st === "requesting") {
      if (serverId !== this.offer?.serverId) return this.ignore(`NAK from ${serverId}, we requested from ${this.offer?.serverId}`);
      this.log(`NAK from ${serverId}${why}: back to INIT`);
      return this.enterInit(this.nakDelay());
    }
    if (this.st === "renewing" || this.st === "rebinding") {
      if (this.st === "renewing" && serverId !== this.current?.serverId) return this.ignore(`NAK from ${serverId}, our server is ${this.current?.serverId}`);
      this.log(`NAK from ${serverId}${why} in ${this.st.toUpperCase()}`);
      void this.dropLease("nak");
      return;
    }
    this.ignore(`NAK from ${serverId} unexpected in ${this.st.toUpperCase()}`);
  }

  // ---- timers ---------------------------------------------------------------

  /** Sends now, then again after 4, 8, 16 … s (±jitter) until `retries` retransmissions, then `giveUp`. */
  private retransmitting(send: () => void, retries: number, giveUp: () => void): void {
    this.attempt = 0;
    const e = this.epoch;
    const arm = () => {
      this.exchangeTimer = this.clock.after(retransmitDelay(this.backoff, this.attempt, this.random), () => {
        if (e !== this.epoch) return;
        if (++this.attempt > retries) return giveUp();
        send();
        arm();
      });
    };
    send();
    arm();
  }

  /** RFC 2131 §4.4.5: retransmit after half the time left until `deadline`, but not sooner than the floor. */
  private renewRetransmit(send: () => void, deadline: () => number): void {
    const e = this.epoch;
    const floor = this.o.renewRetryMinMs ?? 60_000;
    const arm = () => {
      const wait = Math.max((deadline() - this.clock.now()) / 2, floor);
      this.exchangeTimer = this.clock.after(wait, () => {
        if (e !== this.epoch) return;
        send();
        arm();
      });
    };
    arm();
  }

  private scheduleLeaseTimers(lease: Lease): void {
    this.cancelLeaseTimers();
    if (lease.leaseSeconds === INFINITE_LEASE) return;
    const at = lease.obtainedAt;
    this.times = { t1: at + lease.t1Seconds * 1000, t2: at + lease.t2Seconds * 1000, expiry: at + lease.leaseSeconds * 1000 };
    const now = this.clock.now();
    const timer = (when: number, fn: () => void) => this.leaseTimers.push(this.clock.after(Math.max(0, when - now), fn));
    timer(this.times.t1, () => this.st === "bound" && this.enterRenewing());
    timer(this.times.t2, () => (this.st === "bound" || this.st === "renewing") && this.enterRebinding());
    timer(this.times.expiry, () => void this.dropLease("expired"));
  }

  private cancelExchange(): void {
    this.exchangeTimer?.cancel();
    this.exchangeTimer = undefined;
  }

  private cancelLeaseTimers(): void {
    for (const t of this.leaseTimers) t.cancel();
    this.leaseTimers = [];
  }

  /** 0 for the first NAK in a row, then 2, 4 … 64 s: a server that NAKs everything must not make us spin. */
  private nakDelay(): number {
    const n = this.naks++;
    return n === 0 ? 0 : Math.min(1000 * 2 ** n, 64_000);
  }

  // ---- messages -------------------------------------------------------------

  private base(type: MessageTypeName, fields: Partial<DhcpMessage> = {}): DhcpMessage {
    const secs = Math.min(0xffff, Math.floor((this.clock.now() - this.exchangeStart) / 1000));
    const m = newMessage({ op: BOOTREQUEST, xid: this.xid, chaddr: this.o.mac, secs, flags: this.o.broadcastFlag ? 0x8000 : 0, ...fields });
    m.options.set(Opt.messageType, Buffer.from([MessageType[type]]));
    m.options.set(Opt.clientId, this.o.clientId ?? Buffer.concat([Buffer.from([1]), this.o.mac]));
    return m;
  }

  private addRequestOptions(m: DhcpMessage): void {
    m.options.set(Opt.maxMessageSize, encodeU16(1500));
    m.options.set(Opt.paramRequest, Buffer.from(PARAMETER_REQUEST_LIST));
    if (this.o.hostname) m.options.set(Opt.hostname, Buffer.from(this.o.hostname, "latin1"));
  }

  private send(m: DhcpMessage, to: "broadcast" | string): void {
    const type = messageTypeName(m.options.get(Opt.messageType)?.[0]) ?? "request";
    try {
      const packet = encodeMessage(m);
      if (to === "broadcast") this.o.transport.broadcast(packet);
      else this.o.transport.unicast(packet, to);
      this.emit("sent", type, to);
    } catch (err) {
      // A failed send is a lost packet: retransmission covers it.
      this.emit("error", asError(err));
    }
  }

  // ---- plumbing -------------------------------------------------------------

  private newXid(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  private setState(s: DhcpState): void {
    this.epoch++;
    this.cancelExchange();
    const prev = this.st;
    this.st = s;
    if (prev !== s) this.emit("state", s, prev);
  }

  /** Runs applier calls one after another, in the order the protocol made them, whatever they await. */
  private apply(fn: () => void | Promise<void>): Promise<void> {
    const run = this.applying.then(fn).catch((err: unknown) => this.emit("error", asError(err)));
    this.applying = run;
    return run;
  }

  private ignore(reason: string): void {
    this.emit("ignored", reason);
  }

  private log(line: string): void {
    this.emit("log", line);
  }

  private emit<E extends keyof DhcpEvents>(event: E, ...args: Parameters<DhcpEvents[E]>): void {
    for (const fn of this.listeners[event] as Set<(...a: Parameters<DhcpEvents[E]>) => void>) {
      try {
        fn(...args);
      } catch {
        // A listener's bug must not break the protocol.
      }
    }
  }
}

function hex(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
