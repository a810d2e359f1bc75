// One control-plane node's etcd membership (Talos 1.7's flow): before etcd
// may start, this node either
//  - has etcd data already: it rejoins as the member it was;
//  - was told to Bootstrap (once per cluster): a one-member cluster, state new;
//  - or finds an existing member through the other control-plane nodes,
//    adds itself as a learner, starts with initial-cluster-state=existing and
//    promotes itself once the leader says it has caught up.
// A node that cannot reach a member waits (with the reason, retried with
// backoff) and never starts a cluster of its own: only Bootstrap does that.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CertAndKey } from "../api/pki/certs.ts";
import { FailedPreconditionError, NotFoundError } from "../lib/errors.ts";
import { sleep } from "../lib/timers.ts";
import { chooseAddresses, CLIENT_PORT, url, type EtcdAddresses } from "./addresses.ts";
import { issueEtcdCerts, writeEtcdCerts, ETCD_SECRETS_DIR, type EtcdCerts } from "./certs.ts";
import { EtcdClient, type Member } from "./client.ts";
import { clientUrlsOf, etcdRunSpec, peerUrlOf, ETCD_DATA_DIR, type EtcdRunSpec } from "./service.ts";

export interface EtcdSettings {
  hostname: string;
  /** cluster.etcd.ca (PEM). */
  ca: CertAndKey;
  image: string;
  extraArgs: Record<string, string>;
  advertisedSubnets: string[];
  listenSubnets: string[];
  dataDir?: string;
  secretsDir?: string;
  /** uid:gid the certificate files are given to (the etcd user's, which reads them); absent: the writer's. */
  owner?: { uid: number; gid: number };
}

export interface EtcdMemberDeps {
  /** The node's IPv4 addresses, primary first. */
  addresses(): string[];
  /**
   * Client URLs of existing members, found through the other control-plane
   * nodes (init asks their machine APIs), or why none could be found.
   */
  findMembers(signal: AbortSignal): Promise<{ clientURLs: string[] } | { reason: string }>;
  log(msg: string): void;
}

export interface PrepareContext {
  signal: AbortSignal;
  /** Shows the service as Waiting with this reason. */
  waiting(reason: string): void;
}

/** How long a membership change waits out etcd's "unhealthy cluster" (a member that restarted counts again after 5 s connected). */
const UNHEALTHY_WAIT_MS = 20_000;

/** Retries `fn` while etcd refuses a reconfiguration as unsafe right now (strict reconfig check); other errors at once. */
async function whileUnhealthy<T>(fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + UNHEALTHY_WAIT_MS;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!/unhealthy cluster/.test((e as Error).message) || Date.now() > until) throw e;
      await sleep(500);
    }
  }
}

/** Join retries: 1 s doubling to 10 s (a Bootstrap elsewhere is found within 10 s). */
const JOIN_BACKOFF = { initialMs: 1000, maxMs: 10_000 };
const PROMOTE_EVERY_MS = 1000;

export class EtcdMember {
  private bootstrapRequested = false;
  private left = false;
  private wake: (() => void) | undefined;
  private certs: EtcdCerts | undefined;
  /** The addresses (sorted, comma-joined) the current certificates name. */
  private certsFor: string | undefined;
  private addrs: EtcdAddresses | undefined;
  /** Members to promote through (the ones this node joined through). */
  private joinedThrough: string[] = [];
  private promoting: AbortController | undefined;
  /** The last join attempt reached a member (it failed after that). */
  private clusterSeen = false;
  readonly dataDir: string;
  readonly secretsDir: string;

  constructor(
    readonly settings: EtcdSettings,
    private readonly deps: EtcdMemberDeps,
  ) {
    this.dataDir = settings.dataDir ?? ETCD_DATA_DIR;
    this.secretsDir = settings.secretsDir ?? ETCD_SECRETS_DIR;
  }

  /** etcd has a member directory: this node was (or is) a member. */
  hasData(): boolean {
    try {
      return existsSync(join(this.dataDir, "member")) || (existsSync(this.dataDir) && readdirSync(this.dataDir).length > 0);
    } catch {
      return false;
    }
  }

  /** Talos's Bootstrap: refused (nothing changed) when this node already is or was a member. */
  requestBootstrap(): void {
    if (this.bootstrapRequested) throw new FailedPreconditionError("etcd is already bootstrapped on this node");
    if (this.hasData())
      throw new FailedPreconditionError(`etcd data directory ${this.dataDir} is not empty: this node is (or was) a member; Bootstrap is once per cluster`);
    if (this.left) throw new FailedPreconditionError("this node left the etcd cluster; reboot it to join again");
    this.bootstrapRequested = true;
    this.deps.log("etcd: bootstrap requested");
    this.wake?.();
  }

  /** Checks Bootstrap's preconditions without changing anything (a recover runs its restore in between). */
  checkBootstrap(): void {
    if (this.bootstrapRequested) throw new FailedPreconditionError("etcd is already bootstrapped on this node");
    if (this.hasData())
      throw new FailedPreconditionError(`etcd data directory ${this.dataDir} is not empty: this node is (or was) a member; Bootstrap is once per cluster`);
    if (this.left) throw new FailedPreconditionError("this node left the etcd cluster; reboot it to join again");
  }

  /** Data was restored into the data directory: wake the waiting start. */
  restored(): void {
    this.bootstrapRequested = true;
    this.wake?.();
  }

  /** Admin TLS for this node's own etcd client. */
  tls(): { ca: string; cert: string; key: string } {
    const c = this.issue();
    return { ca: c.ca, cert: c.admin.cert, key: c.admin.key };
  }

  private issue(): EtcdCerts {
    if (!this.certs) this.refreshCerts();
    return this.certs!;
  }

  /**
   * (Re)issues the peer and server certificates when the node's addresses are
   * not the ones their SANs name (first use, or DHCP gave another address) and
   * writes them where etcd reads them; true when it did. etcd loads its
   * certificate files at every TLS handshake, so a running member serves the
   * new ones without a restart.
   */
  refreshCerts(): boolean {
    const addresses = [...new Set(this.deps.addresses())].sort();
    const key = addresses.join(",");
    if (this.certs && key === this.certsFor) return false;
    const before = this.certsFor;
    this.certs = issueEtcdCerts(this.settings.ca, this.settings.hostname, addresses);
    writeEtcdCerts(this.certs, this.secretsDir, this.settings.owner);
    this.certsFor = key;
    if (before !== undefined) this.deps.log(`etcd: node addresses changed (${before || "none"} -> ${key || "none"}): peer and server certificates reissued`);
    return true;
  }

  /** A client of this node's own member. */
  local(): EtcdClient {
    return new EtcdClient({ endpoints: [url("127.0.0.1", CLIENT_PORT)], tls: this.tls() });
  }

  /** This node's peer URL (how the cluster knows it); undefined before its addresses are known. */
  peerUrl(): string | undefined {
    return this.addrs ? peerUrlOf(this.addrs) : undefined;
  }

  /**
   * What etcd runs with this time (Talos's PreFunc): waits for an address,
   * then for data, a Bootstrap, or a member to join through.
   */
  async prepare(ctx: PrepareContext): Promise<EtcdRunSpec> {
    const s = this.settings;
    for (let attempt = 1; ; attempt++) {
      const addrs = chooseAddresses(this.deps.addresses(), s.advertisedSubnets, s.listenSubnets);
      if (addrs.advertised.length > 0) {
        this.addrs = addrs;
        break;
      }
      ctx.waiting(`no node address${s.advertisedSubnets.length ? ` in cluster.etcd.advertisedSubnets ${s.advertisedSubnets.join(",")}` : ""} yet`);
      if (!(await sleep(Math.min(5000, 200 * attempt), ctx.signal))) throw new Error("stopped");
    }
    this.refreshCerts();
    const addrs = this.addrs;
    const self = { name: s.hostname, peerURL: peerUrlOf(addrs) };
    const spec = (state: "new" | "existing", initialCluster = [self]) =>
      etcdRunSpec({
        name: s.hostname,
        addresses: addrs,
        initialCluster,
        state,
        image: s.image,
        extraArgs: s.extraArgs,
        dataDir: this.dataDir,
        secretsDir: s.secretsDir,
      });

    if (this.hasData()) {
      this.promoteInBackground();
      return spec("existing");
    }
    let attempt = 0;
    for (;;) {
      if (this.hasData()) {
        // Restored from a snapshot while waiting (Bootstrap with recover_etcd).
        this.deps.log("etcd: starting from the restored data directory");
        return spec("existing");
      }
      if (this.left) ctx.waiting("left the etcd cluster; reboot the node to join again");
      else if (this.bootstrapRequested) {
        this.deps.log(`etcd: bootstrapping a one-member cluster as ${self.name} at ${self.peerURL}`);
        return spec("new");
      } else {
        const joined = await this.tryJoin(ctx);
        if (joined) {
          this.promoteInBackground();
          return spec("existing", joined);
        }
      }
      // A cluster that answered but could not take this node yet (another learner is catching up) is asked again soon.
      attempt = this.clusterSeen ? 1 : attempt + 1;
      const delay = Math.min(JOIN_BACKOFF.maxMs, JOIN_BACKOFF.initialMs * 2 ** Math.min(attempt - 1, 10));
      const woken = new Promise<void>((r) => (this.wake = r));
      const slept = await Promise.race([sleep(delay, ctx.signal), woken.then(() => true)]);
      this.wake = undefined;
      if (!slept || ctx.signal.aborted) throw new Error("stopped");
    }
  }

  /** One join attempt: the initial cluster to start with, or undefined (the reason shown as Waiting). */
  private async tryJoin(ctx: PrepareContext): Promise<Array<{ name: string; peerURL: string }> | undefined> {
    const waitReason = (why: string) => ctx.waiting(`waiting for Bootstrap or for a member to join through: ${why}`);
    const found = await this.deps.findMembers(ctx.signal).catch((e: Error) => ({ reason: e.message }));
    if ("reason" in found) {
      waitReason(found.reason);
      return undefined;
    }
    const own = new Set(clientUrlsOf(this.addrs!));
    const endpoints = found.clientURLs.filter((u) => !own.has(u));
    if (endpoints.length === 0) {
      waitReason("no other member's client URL");
      return undefined;
    }
    const c = new EtcdClient({ endpoints, tls: this.tls() });
    this.clusterSeen = false;
    try {
      const peerURL = peerUrlOf(this.addrs!);
      let { members } = await c.memberList();
      this.clusterSeen = true;
      let me: Member | undefined = members.find((m) => m.peerURLs.includes(peerURL));
      if (me?.name) {
        // A member with this node's URL that has run, while this node has no data: it is a leftover (a wiped node). Replace it.
        this.deps.log(`etcd: removing stale member ${me.name} (${me.ID}) with this node's peer URL before joining`);
        members = await c.memberRemove(me.ID);
        me = undefined;
      }
      if (!me) {
        const r = await c.memberAdd([peerURL], true);
        me = r.member;
        members = r.members;
        this.deps.log(`etcd: added as learner ${me.ID} through ${endpoints.join(", ")}`);
      }
      this.joinedThrough = endpoints;
      const myId = me.ID;
      return members.flatMap((m) => m.peerURLs.map((u) => ({ name: m.ID === myId ? this.settings.hostname : m.name || `m${m.ID}`, peerURL: u })));
    } catch (e) {
      waitReason(`${endpoints.join(", ")}: ${(e as Error).message}`);
      return undefined;
    } finally {
      c.close();
    }
  }

  /** Promotes this member while it is a learner, once the leader accepts (it has caught up). */
  private promoteInBackground(): void {
    this.promoting?.abort();
    const stop = (this.promoting = new AbortController());
    void (async () => {
      while (!stop.signal.aborted) {
        if (!(await sleep(PROMOTE_EVERY_MS, stop.signal))) return;
        const local = this.local();
        try {
          const st = await local.status();
          if (!st.isLearner) return;
          const through = this.joinedThrough.length ? this.joinedThrough : (await local.memberList()).members.flatMap((m) => m.clientURLs);
          const c = new EtcdClient({ endpoints: through, tls: this.tls() });
          try {
            await c.memberPromote(st.header.member_id);
            this.deps.log(`etcd: promoted ${st.header.member_id} to a voting member`);
            return;
          } finally {
            c.close();
          }
        } catch {
          // not caught up yet, or etcd not up yet: next round
        } finally {
          local.close();
        }
      }
    })();
  }

  /** Members as this node's etcd sees them. */
  async members(): Promise<Member[]> {
    const c = this.local();
    try {
      return (await c.memberList()).members;
    } finally {
      c.close();
    }
  }

  /** Removes a member by id; never the last one. */
  async removeMember(id: string): Promise<void> {
    const c = this.local();
    try {
      const { members } = await c.memberList();
      if (!members.some((m) => m.ID === id)) throw new NotFoundError(`etcd member ${id} not found`);
      if (members.length === 1) throw new FailedPreconditionError("refusing to remove the last etcd member");
      await whileUnhealthy(() => c.memberRemove(id));
    } finally {
      c.close();
    }
  }

  /**
   * Talos's EtcdLeaveCluster: removes this member through the others; the
   * caller then stops etcd and wipes()s its data. Refused for the last member.
   */
  async leave(): Promise<void> {
    const local = this.local();
    try {
      const st = await local.status();
      const { members } = await local.memberList();
      const me = members.find((m) => m.ID === st.header.member_id);
      if (!me) throw new NotFoundError("this node is not an etcd member");
      const others = members.filter((m) => m.ID !== me.ID);
      if (others.length === 0) throw new FailedPreconditionError("refusing to leave: this node is the last etcd member");
      // Leadership first, so the removal does not wait for an election.
      if (st.leader === me.ID) {
        const target = others.find((m) => !m.isLearner);
        if (target) await local.moveLeader(target.ID).catch(() => {});
      }
      const c = new EtcdClient({ endpoints: others.flatMap((m) => m.clientURLs), tls: this.tls() });
      try {
        await whileUnhealthy(() => c.memberRemove(me.ID));
      } finally {
        c.close();
      }
      this.left = true;
      this.promoting?.abort();
      this.deps.log(`etcd: left the cluster (member ${me.ID})`);
    } finally {
      local.close();
    }
  }

  /** Removes the data directory (after leaving, with etcd stopped). */
  wipe(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Hands leadership to another voting member when this one leads; the new leader's name, or "" when this member did not lead. */
  async forfeitLeadership(): Promise<string> {
    const c = this.local();
    try {
      const st = await c.status();
      if (st.leader !== st.header.member_id) return "";
      const { members } = await c.memberList();
      const target = members.find((m) => m.ID !== st.header.member_id && !m.isLearner);
      if (!target) throw new FailedPreconditionError("no other voting member to hand leadership to");
      await c.moveLeader(target.ID);
      return target.name;
    } finally {
      c.close();
    }
  }

  stopBackground(): void {
    this.promoting?.abort();
  }
}
