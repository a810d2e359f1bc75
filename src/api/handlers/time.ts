// time.TimeService (Talos's): the node's clock next to a time server's. Time
// asks the server the node syncs with, TimeCheck the one named; both answer
// with the server's transmit time and the node's clock when the reply came.
import type { MachineBackend } from "../../init/backend/contract.ts";
import type { TimeAnswer } from "../../node/time.ts";
import type { google, time } from "../gen/types.ts";
import { meta, type CallContext, type ServiceImpl } from "../handler.ts";
import type { Msg } from "../wire.ts";

const NS_PER_S = 1_000_000_000n;

function timestamp(ns: bigint): google.protobuf.Timestamp {
  return { seconds: Number(ns / NS_PER_S), nanos: Number(ns % NS_PER_S) };
}

function reply(a: TimeAnswer, ctx: CallContext): Msg<time.TimeResponse> {
  return { messages: [{ metadata: meta(ctx), server: a.server, localtime: timestamp(a.localNs), remotetime: timestamp(a.remoteNs) }] };
}

export function timeService(backend: MachineBackend): ServiceImpl<"time.TimeService"> {
  return {
    async Time(_req, ctx) {
      return reply(await backend.queryTime(), ctx);
    },
    async TimeCheck(req, ctx) {
      return reply(await backend.queryTime(req.server), ctx);
    },
  };
}
