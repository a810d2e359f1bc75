// minos.machine.MinosService: scheduled shutdown (held by init, for
// `shutdown +5` / `shutdown -c`) and reading the effective config (secrets
// redacted for non-admins).
import type { MachineBackend } from "../../init/backend/contract.ts";
import { POWER, powerActionFromWire } from "../../node/power.ts";
import { meta, type ServiceImpl } from "../handler.ts";
import { allows } from "../auth.ts";
import { fromTimestamp, toTimestamp } from "../schema.ts";
import { FailedPreconditionError, InvalidArgumentError } from "../../lib/errors.ts";
import { networkHandlers } from "./network.ts";

export function minosService(backend: MachineBackend): ServiceImpl<"minos.machine.MinosService"> {
  return {
    async ScheduleShutdown(req, ctx) {
      const at = fromTimestamp(req.at);
      if (!at) throw new InvalidArgumentError("at is required");
      // An enum number the table does not have (99) must never reach the sequencer.
      const action = powerActionFromWire(req.action);
      if (!action) throw new InvalidArgumentError(`action: unknown power action ${JSON.stringify(req.action)}`);
      backend.scheduleShutdown({ action, at, message: req.message });
      return { messages: [{ metadata: meta(ctx), at: toTimestamp(at), action: req.action }] };
    },

    async CancelShutdown(_req, ctx) {
      return { messages: [{ metadata: meta(ctx), cancelled: backend.cancelScheduledShutdown() }] };
    },

    async ScheduledShutdown(_req, ctx) {
      const s = backend.scheduledShutdown();
      if (!s) return { messages: [{ metadata: meta(ctx), scheduled: false }] };
      return { messages: [{ metadata: meta(ctx), scheduled: true, at: toTimestamp(s.at), action: POWER[s.action].wire, message: s.message }] };
    },

    ...networkHandlers(backend),
    async ImageImport(requests, ctx, sink) {
      // The request first (its enums are checked as it is read), then whether the node can take it.
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) throw new InvalidArgumentError("ImageImport: no messages");
      const images = backend.images;
      if (!images) throw new FailedPreconditionError("no containerd on this node");
      const ns = first.value.namespace === "NS_SYSTEM" ? "system" : first.value.namespace === "NS_CRI" ? "k8s.io" : undefined;
      if (!ns) throw new InvalidArgumentError(`containerd namespace ${first.value.namespace}: use NS_SYSTEM or NS_CRI`);
      async function* chunks(): AsyncGenerator<Uint8Array> {
        if (first.value!.chunk.length) yield first.value!.chunk;
        for (let r = await it.next(); !r.done; r = await it.next()) if (r.value.chunk.length) yield r.value.chunk;
      }
      const names = await images.import(ns, chunks(), first.value.name || undefined);
      sink.push({ metadata: meta(ctx), images: names });
    },

    async GetConfiguration(_req, ctx) {
      // Every role may read the config (the dashboard shows it to readers); only admins see its secrets.
      const text = allows(ctx.role, "os:admin") ? backend.configYaml() : backend.redactedConfigYaml();
      return { messages: [{ metadata: meta(ctx), data: Buffer.from(text) }] };
    },
  };
}
