// grpc.health.v1.Health: SERVING for the whole server ("") and each API service
// while the server runs. As the health protocol specifies, Check on a service
// the server does not know fails with NOT_FOUND, while Watch answers
// SERVICE_UNKNOWN and holds the stream (the service might appear later).
import type { grpc } from "../gen/types.ts";
import { untilAborted, type ServiceImpl } from "../handler.ts";
import type { Msg } from "../wire.ts";
import { NotFoundError } from "../../lib/errors.ts";

export const SERVED = new Set(["", "machine.MachineService", "minos.machine.MinosService", "time.TimeService"]);

function status(service: string): Msg<grpc.health.v1.HealthCheckResponse> {
  return { status: SERVED.has(service) ? "SERVING" : "SERVICE_UNKNOWN" };
}

export function healthService(): ServiceImpl<"grpc.health.v1.Health"> {
  return {
    async Check(req) {
      if (!SERVED.has(req.service)) throw new NotFoundError(`unknown service "${req.service}"`);
      return status(req.service);
    },
    async Watch(req, _ctx, sink) {
      sink.push(status(req.service));
      await untilAborted(sink.signal);
    },
  };
}
