// minosctl's etcd commands, as talosctl's: `bootstrap` (once per cluster, on
// one control-plane node; --recover-from uploads a snapshot first), and
// `etcd members|status|leave|remove-member|forfeit-leadership|snapshot|alarm
// list|alarm disarm|defrag`. Member ids are printed and taken in hex, as
// talosctl and etcdctl print them.
import { renameSync, readFileSync, writeFileSync } from "node:fs";
import { UsageError } from "../../lib/args.ts";
import type { machine } from "../../api/client.ts";
import type { Command, CommandContext } from "./cli.ts";
import { emit, need, replies, single } from "./commands.ts";
import { humanBytes, table } from "./format.ts";

/** A uint64 as the API decodes it (a number while exact, else a decimal string) in hex. */
const hex = (v: number | string) => BigInt(v).toString(16);

/** Talos's EtcdRecover takes the snapshot in chunks of this size. */
const UPLOAD_CHUNK = 1024 * 1024;

function nodeCol(ctx: CommandContext, host: string): string[] {
  return ctx.nodes.length > 1 ? [host] : [];
}

async function simple(ctx: CommandContext, method: "EtcdLeaveCluster" | "EtcdDefragment", done: string): Promise<number> {
  const all = replies(ctx, await ctx.client().call("machine.MachineService", method, {}), method);
  emit(ctx, single(all.map((r) => r.msg)), () => all.map((r) => `${r.host || "node"}: ${done}\n`).join(""));
  return 0;
}

function alarmRows(ctx: CommandContext, all: Array<{ host: string; msg: machine.EtcdAlarm }>): string {
  const rows = all.flatMap((r) => r.msg.member_alarms.map((a) => [...nodeCol(ctx, r.host), hex(a.member_id), a.alarm]));
  return rows.length ? table([...(ctx.nodes.length > 1 ? ["NODE"] : []), "MEMBER", "ALARM"], rows) : "no alarms\n";
}

export const ETCD_COMMANDS: Command[] = [
  {
    name: "bootstrap",
    summary: "start etcd's cluster on this control-plane node (once per cluster)",
    description:
      "Every other control-plane node joins by itself. Refused (FAILED_PRECONDITION, nothing changed) on a worker, a second time, or on a node that already has etcd data.",
    flags: [
      { name: "recover-from", value: "FILE", help: "upload this etcd snapshot (minosctl etcd snapshot) and recover the cluster from it" },
      { name: "recover-skip-hash-check", help: "skip the snapshot's integrity check (a copied data directory's db file has no hash)" },
    ],
    async run(ctx) {
      const from = ctx.flags["recover-from"];
      const skip = Boolean(ctx.flags["recover-skip-hash-check"]);
      if (from !== undefined) {
        const data = readFileSync(String(from));
        const chunks: Array<{ bytes: Uint8Array }> = [];
        for (let i = 0; i < data.length; i += UPLOAD_CHUNK) chunks.push({ bytes: data.subarray(i, i + UPLOAD_CHUNK) });
        await ctx.client().clientStream("machine.MachineService", "EtcdRecover", chunks, { timeoutMs: 5 * 60_000 });
        ctx.io.stdout(`uploaded ${humanBytes(data.length)} snapshot\n`);
      }
      const all = replies(
        ctx,
        await ctx.client().call("machine.MachineService", "Bootstrap", { recover_etcd: from !== undefined, recover_skip_hash_check: skip }),
        "Bootstrap",
      );
      emit(ctx, single(all.map((r) => r.msg)), () => all.map((r) => `${r.host || "node"}: bootstrap requested\n`).join(""));
      return 0;
    },
  },
  {
    name: "etcd members",
    summary: "the etcd cluster's members, as each node's etcd sees them",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "EtcdMemberList", {}), "EtcdMemberList");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          [...(ctx.nodes.length > 1 ? ["NODE"] : []), "ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"],
          all.flatMap((r) =>
            r.msg.members.map((m) => [...nodeCol(ctx, r.host), hex(m.id), m.hostname, m.peer_urls.join(","), m.client_urls.join(","), String(m.is_learner)]),
          ),
        ),
      );
      return 0;
    },
  },
  {
    name: "etcd status",
    summary: "this node's etcd member: database size, leader, raft indexes",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "EtcdStatus", {}), "EtcdStatus");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        table(
          ["NODE", "MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM", "RAFT APPLIED INDEX", "LEARNER", "ERRORS"],
          all.map(({ host, msg }) => {
            const s = msg.member_status!;
            return [
              host,
              hex(s.member_id),
              humanBytes(Number(s.db_size)),
              humanBytes(Number(s.db_size_in_use)),
              hex(s.leader),
              String(s.raft_index),
              String(s.raft_term),
              String(s.raft_applied_index),
              String(s.is_learner),
              s.errors.join("; "),
            ];
          }),
        ),
      );
      return 0;
    },
  },
  {
    name: "etcd leave",
    summary: "this node leaves the etcd cluster (etcd stops, its data is wiped)",
    run: (ctx) => simple(ctx, "EtcdLeaveCluster", "left the etcd cluster"),
  },
  { name: "etcd defrag", summary: "defragment this node's etcd database", run: (ctx) => simple(ctx, "EtcdDefragment", "defragmented") },
  {
    name: "etcd remove-member",
    args: "ID",
    summary: "remove a member (its id in hex, as `etcd members` prints it) that is gone for good",
    async run(ctx) {
      const id = need(ctx, 0, "member ID");
      if (!/^[0-9a-fA-F]{1,16}$/.test(id)) throw new UsageError(`member ID "${id}": want the hex id \`etcd members\` prints`);
      const dec = BigInt(`0x${id}`).toString();
      const all = replies(
        ctx,
        await ctx.client().call("machine.MachineService", "EtcdRemoveMemberByID", { member_id: dec as unknown as number }),
        "EtcdRemoveMemberByID",
      );
      emit(ctx, single(all.map((r) => r.msg)), () => `removed member ${id}\n`);
      return 0;
    },
  },
  {
    name: "etcd forfeit-leadership",
    summary: "hand etcd's leadership to another member when this node leads",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "EtcdForfeitLeadership", {}), "EtcdForfeitLeadership");
      emit(ctx, single(all.map((r) => r.msg)), () =>
        all.map((r) => `${r.host || "node"}: ${r.msg.member ? `leadership moved to ${r.msg.member}` : "not the leader; nothing to do"}\n`).join(""),
      );
      return 0;
    },
  },
  {
    name: "etcd snapshot",
    args: "FILE",
    summary: "save a snapshot of etcd's database (needs os:operator or os:etcd:backup)",
    async run(ctx) {
      const file = need(ctx, 0, "FILE");
      const parts: Uint8Array[] = [];
      for await (const d of ctx.client().stream("machine.MachineService", "EtcdSnapshot", {})) {
        if (d.metadata?.error) throw new Error(d.metadata.error);
        parts.push(d.bytes);
      }
      const data = Buffer.concat(parts);
      const tmp = `${file}.part`;
      writeFileSync(tmp, data, { mode: 0o600 });
      renameSync(tmp, file);
      ctx.io.stdout(`etcd snapshot saved to "${file}" (${data.length} bytes)\n`);
      return 0;
    },
  },
  {
    name: "etcd alarm list",
    summary: "etcd's active alarms (NOSPACE, CORRUPT)",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "EtcdAlarmList", {}), "EtcdAlarmList");
      emit(ctx, single(all.map((r) => r.msg)), () => alarmRows(ctx, all));
      return 0;
    },
  },
  {
    name: "etcd alarm disarm",
    summary: "disarm etcd's active alarms",
    async run(ctx) {
      const all = replies(ctx, await ctx.client().call("machine.MachineService", "EtcdAlarmDisarm", {}), "EtcdAlarmDisarm");
      emit(ctx, single(all.map((r) => r.msg)), () => alarmRows(ctx, all));
      return 0;
    },
  },
];
