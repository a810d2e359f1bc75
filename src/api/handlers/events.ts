// NodeEvent (init's view) -> machine.Event (Talos's wire form: payload in an Any
// with a "talos/runtime/<message>" type URL; minos-only events under "minos/runtime/").
import type { NodeEvent } from "../../node/events.ts";
import { POWER } from "../../node/power.ts";
import type { ServiceHealth, ServiceState } from "../../node/services.ts";
import type { machine } from "../gen/types.ts";
import { packAny, toTimestamp } from "../schema.ts";
import type { Msg } from "../wire.ts";

export function serviceStateAction(state: ServiceState): machine.ServiceStateEvent_Action {
  return state.toUpperCase() as machine.ServiceStateEvent_Action;
}

export function healthMsg(h: ServiceHealth): Msg<machine.ServiceHealth> {
  return { unknown: h.unknown, healthy: h.healthy, last_message: h.lastMessage, last_change: toTimestamp(h.lastChange) };
}

export function eventPayload(e: NodeEvent): { typeName: string; value: object } {
  switch (e.kind) {
    case "service":
      return {
        typeName: "machine.ServiceStateEvent",
        value: { service: e.service, action: serviceStateAction(e.state), message: e.message, health: healthMsg(e.health) },
      };
    case "sequence":
      return {
        typeName: "machine.SequenceEvent",
        value: { sequence: e.sequence, action: e.action === "start" ? "START" : "STOP", error: e.error ? { code: "FATAL", message: e.error } : null },
      };
    case "phase":
      return { typeName: "machine.PhaseEvent", value: { phase: e.phase, action: e.action === "start" ? "START" : "STOP" } };
    case "task":
      return { typeName: "machine.TaskEvent", value: { task: e.task, action: e.action === "start" ? "START" : "STOP" } };
    case "shutdown-scheduled":
      return { typeName: "minos.machine.ShutdownScheduledEvent", value: { action: POWER[e.action].wire, at: toTimestamp(e.at), message: e.message } };
    case "shutdown-cancelled":
      return { typeName: "minos.machine.ShutdownCancelledEvent", value: { message: e.message } };
    case "config":
      return { typeName: "minos.machine.ConfigEvent", value: { message: e.message } };
    case "config-load-error":
      return { typeName: "machine.ConfigLoadErrorEvent", value: { error: e.error } };
    case "config-validation-error":
      return { typeName: "machine.ConfigValidationErrorEvent", value: { error: e.error } };
    case "machine-status":
      return {
        typeName: "machine.MachineStatusEvent",
        value: { stage: e.stage.toUpperCase(), status: { ready: e.ready, unmet_conditions: e.unmet.map((u) => ({ name: u.name, reason: u.reason })) } },
      };
    case "network":
      return { typeName: "minos.machine.NetworkEvent", value: { message: e.message } };
    case "address":
      return { typeName: "machine.AddressEvent", value: { hostname: e.hostname, addresses: e.addresses } };
    case "image-pull":
      return {
        typeName: "minos.machine.ImagePullProgressEvent",
        value: { image: e.image, layer: e.layer, layers: e.layers, digest: e.digest, received: e.received, total: e.total },
      };
  }
}

export function toEventMsg(e: NodeEvent, hostname: string): Msg<machine.Event> {
  const { typeName, value } = eventPayload(e);
  return { metadata: { hostname }, data: packAny(typeName, value), id: e.id, actor_id: e.actorId ?? "", ts: toTimestamp(e.ts) };
}

/** Talos's replay rules: tail_id (events after it) wins over tail_seconds, which wins over tail_events (-1 all, 0 none); with_actor_id keeps one call's events. */
export function replay(history: NodeEvent[], req: machine.EventsRequest, now = Date.now()): NodeEvent[] {
  if (req.with_actor_id)
    return replay(
      history.filter((e) => e.actorId === req.with_actor_id),
      { ...req, with_actor_id: "" },
      now,
    );
  if (req.tail_id) {
    const i = history.findIndex((e) => e.id === req.tail_id);
    return i < 0 ? history.slice() : history.slice(i + 1);
  }
  if (req.tail_seconds > 0) return history.filter((e) => e.ts.getTime() >= now - req.tail_seconds * 1000);
  if (req.tail_events < 0) return history.slice();
  return req.tail_events > 0 ? history.slice(-req.tail_events) : [];
}
